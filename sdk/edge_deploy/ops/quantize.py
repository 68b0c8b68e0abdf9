"""QUANTIZE: float32 to int8 / uint8 at a model's float input (TFLite's AffineQuantize), or a
requantization between 8-bit tensors (int8 -> int8 with a new scale, uint8 <-> int8 at a uint8
interface; TFLite's Requantize). C: ``ed_quantize_f32_s8`` for float input, ``ed_lut_s8``
(a 256-entry table) between 8-bit tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier
from edge_deploy.ops._boundary import BYTE_RANGES, check_byte_tensor
from edge_deploy.ops._unary import checked_multiplier
from edge_deploy.ops.base import OpDef, TfliteCode, op_error

QUANTIZE = 114


def quantize_s8(x: np.ndarray, *, output_zero_point: int, q_min: int = -128, q_max: int = 127,
                output_scale: float = 1.0, input_offset: int = 0, out_mult: int = 0, out_shift: int = 0,
                rounding: str = "double") -> np.ndarray:
    """QUANTIZE. Float input: ``round(x / output_scale)`` in float32, halves away from zero,
    plus ``output_zero_point``. 8-bit input: ``x + input_offset`` requantized with
    ``(out_mult, out_shift)`` plus ``output_zero_point``. Clamped to ``[q_min, q_max]`` and
    returned as int8 (``q_min`` < 0) or uint8."""
    if np.issubdtype(x.dtype, np.floating):
        scaled = (x.astype(np.float32) / np.float32(output_scale)).astype(np.float64)
        q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
        q = np.clip(q, -2.0**31, 2.0**31 - 1).astype(np.int64)
    else:
        q = multiply_by_quantized_multiplier(x.astype(np.int64) + int(input_offset), out_mult, out_shift, rounding)
    out = np.clip(q + int(output_zero_point), q_min, q_max)
    return out.astype(np.int8 if q_min < 0 else np.uint8)


class Quantize(OpDef):
    kind = "quantize"
    reference = staticmethod(quantize_s8)
    rounding_sensitive = True
    elementwise_unary = True  # between 8-bit tensors (ed_lut_s8 checks the input type)
    tflite_codes = (TfliteCode(QUANTIZE, "QUANTIZE", 2),)

    def check_activations(self, graph: Graph, op: Op) -> None:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        if x.dtype != "float32":
            check_byte_tensor(op, x)
        check_byte_tensor(op, y)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        q_min, q_max = BYTE_RANGES[y.dtype]
        params = {"output_zero_point": y.zero_point, "q_min": q_min, "q_max": q_max}
        if x.dtype == "float32":
            return {**params, "output_scale": float(np.float32(y.scale))}
        # TFLite: the double ratio of the float32 scales.
        mult, shift = checked_multiplier(op, float(np.float32(x.scale)) / float(np.float32(y.scale)), "requantize")
        return {**params, "input_offset": -x.zero_point, "out_mult": mult, "out_shift": shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return quantize_s8(args[0], **params)

    def byte_table(self, params: dict[str, Any], input_dtype: str = "int8") -> np.ndarray:
        if input_dtype not in BYTE_RANGES:
            raise ValueError(f"a table needs an 8-bit input, not {input_dtype}")
        return super().byte_table(params, input_dtype)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return args[0]

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return calibrated(*ranges[op.outputs[0]])

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 1:
            raise reader.error(f"(QUANTIZE) has {len(reader.inputs)} inputs, expected 1")
        return {}

    def build(self, builder, x, name, *, quant=None, dtype="int8") -> str:
        """QUANTIZE ``x`` to ``dtype`` (int8 or uint8) with ``quant``."""
        if dtype not in BYTE_RANGES:
            raise op_error(Op(self.kind, name, [x], [name]), f"cannot quantize to {dtype}")
        out = builder.op(self.kind, name, [x], {}, quant)
        builder.graph.tensors[out].dtype = dtype
        return out


OP = Quantize()
