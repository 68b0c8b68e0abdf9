"""MAXIMUM and MINIMUM: the element-wise larger / smaller of two int8 tensors (NumPy
broadcasting) on their raw values, as TFLite does (the converter gives both inputs and the
output one quantization). C API: ``arm_maximum_s8`` / ``arm_minimum_s8`` (CMSIS-NN v7.0.0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant
from edge_deploy.ops.base import OpDef, activation_tensor_check, op_error

MAXIMUM, MINIMUM = 55, 57
MAXIMUM_MINIMUM_OPTIONS = 39


def maximum_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAXIMUM, int8, on raw values."""
    return np.maximum(a, b).astype(np.int8)


def minimum_s8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MINIMUM, int8, on raw values."""
    return np.minimum(a, b).astype(np.int8)


class MinMax(OpDef):
    """The base of MAXIMUM and MINIMUM (``function``: np.maximum or np.minimum)."""

    function = staticmethod(np.maximum)
    arity = (2, 2)
    in_place = True
    elementwise_binary = True
    constant_operands = True
    tflite_data_inputs = 2

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, y = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        try:
            return tuple(int(d) for d in np.broadcast_shapes(x, y))
        except ValueError:
            raise op_error(op, f"shapes {x} and {y} do not broadcast") from None

    def check_quantized(self, graph: Graph, op: Op) -> None:
        activation_tensor_check(op, graph.tensor(op.inputs[1]))

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return self.reference(args[0], args[1])

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return self.function(args[0], args[1]).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"({self.tflite_codes[0].name}) has {len(reader.inputs)} inputs, expected 2")
        return {}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(MAXIMUM_MINIMUM_OPTIONS, [])

    def build(self, builder, a, b, name, *, quant=None) -> str:
        """The element-wise op on ``a`` and ``b`` (broadcasting)."""
        return builder.op(self.kind, name, [a, b], {}, quant)
