"""MINIMUM: the element-wise smaller of two int8 tensors (see ops/_minmax). C API: ``arm_minimum_s8``."""

from __future__ import annotations

import numpy as np

from edge_deploy.ops._minmax import MINIMUM, MinMax, minimum_s8
from edge_deploy.ops.base import TfliteCode


class Minimum(MinMax):
    kind = "minimum"
    reference = staticmethod(minimum_s8)
    function = staticmethod(np.minimum)
    tflite_codes = (TfliteCode(MINIMUM, "MINIMUM", 2),)


OP = Minimum()
