"""LEAKY_RELU: ``x`` for ``x >= 0``, ``alpha * x`` below, int8 with two requantizations (TFLite's
QuantizeLeakyRelu). C: ``ed_lut_s8``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, saturate
from edge_deploy.ops._unary import UnaryOp, checked_multiplier
from edge_deploy.ops.base import Attr, TfliteCode

LEAKY_RELU = 98
LEAKY_RELU_OPTIONS = 75
ALPHA_SLOT = 0


def leaky_relu_s8(x: np.ndarray, *, input_offset: int, output_offset: int, identity_mult: int, identity_shift: int,
                  alpha_mult: int, alpha_shift: int, rounding: str = "double") -> np.ndarray:
    """LEAKY_RELU, int8: ``x + input_offset`` requantized with the identity multiplier where it is
    >= 0 and with the alpha multiplier below, plus ``output_offset``, saturated."""
    v = x.astype(np.int64) + int(input_offset)
    pos = multiply_by_quantized_multiplier(v, identity_mult, identity_shift, rounding)
    neg = multiply_by_quantized_multiplier(v, alpha_mult, alpha_shift, rounding)
    return saturate(np.where(v >= 0, pos, neg) + int(output_offset), -128, 127)


def _alpha_check(value: Any) -> str | None:
    try:
        ok = math.isfinite(float(value)) and float(value) >= 0
    except (TypeError, ValueError):
        ok = False
    return None if ok else f"must be a finite number >= 0, got {value!r}"


class LeakyRelu(UnaryOp):
    kind = "leaky_relu"
    aten_targets = ("leaky_relu",)
    reference = staticmethod(leaky_relu_s8)
    attrs = (Attr("alpha", _alpha_check),)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(LEAKY_RELU, "LEAKY_RELU", 2),)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        sx, sy, alpha = np.float32(x.scale), np.float32(y.scale), np.float32(op.attrs["alpha"])
        # TFLite: input_scale * alpha / output_scale and input_scale / output_scale, in float32.
        am, ash = checked_multiplier(op, float(sx * alpha / sy), "alpha")
        im, ish = checked_multiplier(op, float(sx / sy), "identity")
        return {"input_offset": -x.zero_point, "output_offset": y.zero_point, "identity_mult": im,
                "identity_shift": ish, "alpha_mult": am, "alpha_shift": ash}

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return np.where(args[0] >= 0, args[0], args[0] * np.float32(op.attrs["alpha"])).astype(np.float32)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        super().from_tflite(code, reader)
        alpha = float(reader.option(ALPHA_SLOT, "<f", 0.0))
        if not (math.isfinite(alpha) and alpha >= 0):
            raise reader.error(f"(LEAKY_RELU) has alpha {alpha}; only finite alpha >= 0 is supported")
        return {"alpha": alpha}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(LEAKY_RELU_OPTIONS, [(ALPHA_SLOT, "f32", float(op.attrs["alpha"]))])

    def lower_aten(self, lowering, node) -> Any:
        """``aten.leaky_relu`` (input, negative_slope)."""
        src = lowering.tensor(node, 0)
        alpha = float(lowering.arg(node, "negative_slope", 0.01))
        return lowering.result(node, lowering.builder.leaky_relu(src.name, node.name, alpha=alpha))

    def build(self, builder, x, name, *, alpha=0.2, quant=None) -> str:
        """LEAKY_RELU of ``x`` with slope ``alpha`` below 0."""
        return builder.op(self.kind, name, [x], {"alpha": float(np.float32(alpha))}, quant)


OP = LeakyRelu()
