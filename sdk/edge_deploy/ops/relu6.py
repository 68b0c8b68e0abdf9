"""RELU6: ``min(max(x, 0), 6)`` in int8, requantized as TFLite's QuantizedReluX does. C: ``ed_lut_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._unary import UnaryOp
from edge_deploy.ops.base import TfliteCode
from edge_deploy.ops.relu import RELU6, relu_params, relu_s8


class Relu6(UnaryOp):
    kind = "relu6"
    reference = staticmethod(relu_s8)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(RELU6, "RELU6", 2),)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return relu_params(graph, op, 6.0)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return np.clip(args[0], 0, 6).astype(np.float32)


OP = Relu6()
