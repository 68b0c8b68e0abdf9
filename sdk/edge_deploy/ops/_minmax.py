"""MAXIMUM and MINIMUM: the element-wise larger / smaller of two int8 tensors (NumPy
broadcasting) on their raw values, as TFLite does (the converter gives both inputs and the
output one quantization). C API: ``arm_maximum_s8`` / ``arm_minimum_s8`` (CMSIS-NN v7.0.0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._binary import BinaryOp
from edge_deploy.ops._movement import input_quant

MAXIMUM, MINIMUM = 55, 57
MAXIMUM_MINIMUM_OPTIONS = 39


def maximum_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAXIMUM, int8, on raw values."""
    return np.maximum(a, b).astype(np.int8)


def minimum_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MINIMUM, int8, on raw values."""
    return np.minimum(a, b).astype(np.int8)


class MinMax(BinaryOp):
    """The base of MAXIMUM and MINIMUM (``function``: np.maximum or np.minimum)."""

    function = staticmethod(np.maximum)
    tflite_options = MAXIMUM_MINIMUM_OPTIONS

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return self.reference(args[0], args[1])

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return self.function(args[0], args[1]).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)
