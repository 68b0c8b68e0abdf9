"""PRELU: ``x`` for ``x >= 0``, ``alpha * x`` below, with a learned int8 ``alpha`` broadcast over
the input (per channel, usually); two requantizations, as TFLite's int8 PRELU. C: ``ed_prelu_s8``
(once per block of the broadcast)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, saturate
from edge_deploy.ops._unary import checked_multiplier
from edge_deploy.ops.base import OpDef, TfliteCode, activation_tensor_check, op_error

PRELU = 54


def prelu_s8(x: np.ndarray, alpha: np.ndarray, *, input_offset: int, alpha_offset: int, output_offset: int,
             pos_mult: int, pos_shift: int, neg_mult: int, neg_shift: int, rounding: str = "double") -> np.ndarray:
    """PRELU, int8: ``v = x + input_offset``; ``v`` requantized with ``(pos_mult, pos_shift)`` where
    ``v >= 0``, else ``v * (alpha + alpha_offset)`` with ``(neg_mult, neg_shift)``; plus
    ``output_offset``, saturated. ``alpha`` broadcasts against ``x``."""
    v = x.astype(np.int64) + int(input_offset)
    a = alpha.astype(np.int64) + int(alpha_offset)
    pos = multiply_by_quantized_multiplier(v, pos_mult, pos_shift, rounding)
    neg = multiply_by_quantized_multiplier(v * a, neg_mult, neg_shift, rounding)
    return saturate(np.where(v >= 0, pos, neg) + int(output_offset), -128, 127)


class Prelu(OpDef):
    kind = "prelu"
    reference = staticmethod(prelu_s8)
    arity = (2, 2)
    in_place = True
    rounding_sensitive = True
    tflite_codes = (TfliteCode(PRELU, "PRELU", 1),)
    tflite_data_inputs = 2

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, a = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        try:
            shape = tuple(int(d) for d in np.broadcast_shapes(x, a))
        except ValueError:
            shape = None
        if shape != tuple(x):
            raise op_error(op, f"alpha of shape {a} does not broadcast over input {x}")
        return shape

    def check_quantized(self, graph: Graph, op: Op) -> None:
        activation_tensor_check(op, graph.tensor(op.inputs[1]))

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, a, y = (graph.tensor(n) for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        sx, sa, sy = np.float32(x.scale), np.float32(a.scale), np.float32(y.scale)
        pos_mult, pos_shift = checked_multiplier(op, float(sx / sy), "identity")
        neg_mult, neg_shift = checked_multiplier(op, float(sx * sa / sy), "alpha")
        return {"input_offset": -x.zero_point, "alpha_offset": -a.zero_point, "output_offset": y.zero_point,
                "pos_mult": pos_mult, "pos_shift": pos_shift, "neg_mult": neg_mult, "neg_shift": neg_shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return prelu_s8(args[0], args[1], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return np.where(args[0] >= 0, args[0], args[0] * args[1]).astype(np.float32)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"(PRELU) has {len(reader.inputs)} inputs, expected 2")
        return {}

    def build(self, builder, x, name, alpha, *, alpha_quant=None, quant=None) -> str:
        """PRELU of ``x`` with the constant ``alpha`` (int8 with ``alpha_quant`` in an int8 graph)."""
        dtype = "int8" if alpha_quant is not None else "float32"
        a = builder.constant(f"{name}/alpha", alpha, dtype, alpha_quant)
        return builder.op(self.kind, name, [x, a], {}, quant)


OP = Prelu()
