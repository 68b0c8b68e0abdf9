"""SUM: the sum over some axes of an int8 tensor. TFLM computes it as MEAN does without the
division (the int32 sum of ``x - input_zero_point`` requantized by ``input_scale / output_scale``,
saturated), and so does the firmware (``ed_mean_s8`` with that multiplier). ai-edge-litert 2.3's
reference SUM was measured to differ: with rescaling it does the same arithmetic on the int8 bytes
read as uint8 and saturates to 0..255 (stored as the same byte); with one quantization on both
sides it adds the raw int8 values, wrapping. The interpreter's
``litert`` policy reproduces that (``litert_rounding = "litert"``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32
from edge_deploy.ops._movement import samples
from edge_deploy.ops.base import TfliteCode
from edge_deploy.ops.mean import Mean, mean_axes, mean_s8

SUM = 74


def _litert_sum(x: np.ndarray, in_shape, axis, same_quant: bool, params: dict[str, Any]) -> np.ndarray:
    if same_quant:
        raw = samples(x, in_shape).astype(np.int64).sum(axis=tuple(a + 1 for a in axis), keepdims=True)
        return (((raw + 128) & 0xFF) - 128).astype(np.int8)
    rows = samples(x.view(np.uint8), in_shape).astype(np.int64) + int(params["input_offset"])
    acc = multiply_by_quantized_multiplier(wrap_int32(rows.sum(axis=tuple(a + 1 for a in axis), keepdims=True)),
                                           params["out_mult"], params["out_shift"], "double")
    return np.clip(acc + int(params["output_offset"]), 0, 255).astype(np.uint8).view(np.int8)


def sum_s8(x: np.ndarray, *, in_shape: tuple[int, ...], axis: tuple[int, ...], input_offset: int,
           output_offset: int, out_mult: int, out_shift: int, same_quant: bool = False,
           rounding: str = "double") -> np.ndarray:
    """SUM of each sample (shaped ``in_shape``) over ``axis``, dimensions kept: TFLM's integer
    arithmetic (``rounding`` "double" / "single"), or ai-edge-litert's measured one ("litert")."""
    if rounding == "litert":
        return _litert_sum(x, in_shape, axis, same_quant, {"input_offset": input_offset, "out_mult": out_mult,
                                                           "out_shift": out_shift, "output_offset": output_offset})
    return mean_s8(x, in_shape=in_shape, axis=axis, input_offset=input_offset, output_offset=output_offset,
                   out_mult=out_mult, out_shift=out_shift, rounding=rounding)


class Sum(Mean):
    kind = "sum"
    reference = staticmethod(sum_s8)
    litert_rounding = "litert"
    tflite_codes = (TfliteCode(SUM, "SUM", 2),)
    torch_modules = ()

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        axes = mean_axes(graph, op)
        mult, shift = quantize_multiplier(float(np.float32(x.scale)) / float(np.float32(y.scale)))
        return {"in_shape": tuple(x.shape), "axis": axes, "input_offset": -x.zero_point,
                "output_offset": y.zero_point, "out_mult": mult, "out_shift": shift,
                "same_quant": bool(np.float32(x.scale) == np.float32(y.scale) and x.zero_point == y.zero_point)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return sum_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        rows = samples(args[0], graph.tensor(op.inputs[0]).shape)
        return rows.sum(axis=tuple(a + 1 for a in mean_axes(graph, op)), keepdims=True).astype(np.float32)

    def lower_torch(self, lowering, node, module) -> Any:
        raise NotImplementedError("sum has no PyTorch lowering")

    def build(self, builder, x, name, *, axis=(1, 2), keep_dims=False, quant=None) -> str:
        """SUM of ``x`` over ``axis``."""
        return builder.op(self.kind, name, [x], {"axis": tuple(axis), "keep_dims": bool(keep_dims)}, quant)


OP = Sum()
