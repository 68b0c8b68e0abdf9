"""MAXIMUM: the element-wise larger of two int8 tensors (see ops/_minmax). C API: ``arm_maximum_s8``."""

from __future__ import annotations

from edge_deploy.ops._minmax import MAXIMUM, MinMax, maximum_s8
from edge_deploy.ops.base import TfliteCode


class Maximum(MinMax):
    kind = "maximum"
    reference = staticmethod(maximum_s8)
    tflite_codes = (TfliteCode(MAXIMUM, "MAXIMUM", 2),)


OP = Maximum()
