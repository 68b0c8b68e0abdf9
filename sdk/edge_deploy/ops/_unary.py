"""What the element-wise ops of one int8 input share (RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH,
HARD_SWISH): the output has the input's shape, each output element is a function of the same input
element (so the firmware runs them as a 256-entry table, ``ed_lut_s8``), and a ``.tflite``
operator has one input and at most a small options table."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import quantize_multiplier
from edge_deploy.ops.base import OpDef, op_error


def float_ratio(graph: Graph, op: Op, numerator: float) -> float:
    """``numerator / output_scale`` as TFLite computes such ratios: in float32 (float operands),
    widened to double."""
    return float(np.float32(numerator) / np.float32(graph.tensor(op.outputs[0]).scale))


def checked_multiplier(op: Op, real: float, what: str) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier of ``real``, raising an error naming ``op`` for a negative or
    non-finite ratio (a corrupt scale)."""
    try:
        return quantize_multiplier(real)
    except ValueError:
        raise op_error(op, f"{what} multiplier {real!r} is negative or not finite",
                       "the tensor scales are corrupt; convert the model again") from None


def float_dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """``scale * (q - zero_point)`` in float32 (TFLite's float lookup-table inputs)."""
    return (np.float32(scale) * (values.astype(np.int32) - int(zero_point)).astype(np.float32)).astype(np.float32)


def float_requantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 values to int8 as TFLite's lookup tables do: ``round(v * (1 / scale))`` (float32,
    halves away from zero) plus the zero point, saturated."""
    inverse = np.float32(1.0) / np.float32(scale)
    scaled = (values.astype(np.float32) * inverse).astype(np.float64)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + int(zero_point), -128, 127).astype(np.int8)


class UnaryOp(OpDef):
    """Base of the element-wise int8 ops of one input: shape-preserving, in place, a table."""

    elementwise_unary = True
    in_place = True
    tflite_data_inputs = 1

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        return tuple(graph.tensor(op.inputs[0]).shape)

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return self.reference(args[0], **params)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 1:
            raise reader.error(f"({self.tflite_codes[0].name}) has {len(reader.inputs)} inputs, expected 1")
        return {}

    def build(self, builder, x, name, *, quant=None, **attrs) -> str:
        """The op on ``x``."""
        return builder.op(self.kind, name, [x], dict(attrs), quant)
