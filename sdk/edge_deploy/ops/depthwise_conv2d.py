"""DEPTHWISE_CONV_2D: each input channel convolved with its own ``depth_multiplier`` filters
(1HWO int8 weights, output channel ``o`` reads input channel ``o // multiplier``), per-channel
requantization, fused ReLU / ReLU6. C API: ``arm_depthwise_conv_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.windows import Padding, window_patches
from edge_deploy.ops._shared import check_bias, check_nhwc, requantize, window_output_shape
from edge_deploy.ops._windowed import WindowedWeightsOp
from edge_deploy.ops.base import Attr, TfliteCode, op_error

DEPTHWISE_CONV_2D = 4
DEPTHWISE_CONV2D_OPTIONS = 2

DEPTH_MULTIPLIER = Attr("depth_multiplier", lambda v: None if int(v) == v and v >= 1 else f"must be >= 1, got {v!r}",
                        required=False, default=1)


def depthwise_conv2d_s8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    input_offset: int,
    output_offset: int,
    out_mult,
    out_shift,
    stride: tuple[int, int] = (1, 1),
    padding: Padding = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """DEPTHWISE_CONV_2D, int8 per-channel (``arm_depthwise_conv_s8``): NHWC x, 1HWO w.

    The depth multiplier is ``O // C_in``; parameters as for
    :func:`edge_deploy.ops.conv2d.conv2d_s8`. Raises ValueError when the shapes disagree.
    """
    if x.ndim != 4 or w.ndim != 4 or w.shape[0] != 1 or w.shape[3] % x.shape[3] != 0:
        raise ValueError(f"depthwise_conv2d_s8: input {x.shape} and 1HWO weights {w.shape} do not match")
    multiplier = w.shape[3] // x.shape[3]
    patches, _ = window_patches(x, w.shape[1:3], stride, dilation, padding, -int(input_offset))
    patches = patches + int(input_offset)
    if multiplier > 1:
        patches = np.repeat(patches, multiplier, axis=-1)
    acc = np.einsum("nhwijo,ijo->nhwo", patches, w[0].astype(np.int64))
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)


def depthwise_conv2d_f32(x, w, bias, *, stride, padding, dilation) -> np.ndarray:
    """DEPTHWISE_CONV_2D in float (float64 sums), 1HWO weights."""
    patches, _ = window_patches(x.astype(np.float64), w.shape[1:3], stride, dilation, padding, 0.0)
    multiplier = w.shape[3] // x.shape[3]
    if multiplier > 1:
        patches = np.repeat(patches, multiplier, axis=-1)
    out = np.einsum("nhwijo,ijo->nhwo", patches, w[0].astype(np.float64))
    return out + bias if bias is not None else out


class DepthwiseConv2d(WindowedWeightsOp):
    kind = "depthwise_conv2d"
    reference = staticmethod(depthwise_conv2d_s8)
    float_function = staticmethod(depthwise_conv2d_f32)
    attrs = (*WindowedWeightsOp.attrs, DEPTH_MULTIPLIER)
    weight_axis = 3
    tflite_codes = (TfliteCode(DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 3),)
    tflite_options = DEPTHWISE_CONV2D_OPTIONS
    option_slots = {"padding": 0, "stride_w": 1, "stride_h": 2, "activation": 4, "dilation_w": 5, "dilation_h": 6}
    multiplier_slot = 3

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        check_nhwc(op, x)
        if len(w) != 4:
            raise op_error(op, f"weights '{op.inputs[1]}' must be rank 4, got shape {w}")
        mult = self.attr(op, "depth_multiplier")
        if w[0] != 1 or w[3] != x[3] * mult:
            raise op_error(op, f"depthwise weights 1HWO {w} do not fit {x[3]} channels x multiplier {mult}")
        check_bias(graph, op, w[3])
        return window_output_shape(graph, op, (w[1], w[2]), op.attrs["dilation"], w[3])

    def taps(self, w_shape: tuple[int, ...]) -> int:
        return w_shape[1] * w_shape[2]

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        return {**super().from_tflite(code, reader),
                "depth_multiplier": max(1, reader.option(self.multiplier_slot, "<i", 1))}

    def tflite_fields(self, op: Op) -> list[tuple[int, str, Any]]:
        return [*super().tflite_fields(op), (self.multiplier_slot, "i32", self.attr(op, "depth_multiplier"))]

    def window_attrs(self, builder, x, weights, stride, padding, dilation, activation) -> dict[str, Any]:
        multiplier = np.asarray(weights).shape[3] // builder.graph.tensor(x).shape[3]
        return {**super().window_attrs(builder, x, weights, stride, padding, dilation, activation),
                "depth_multiplier": multiplier}


OP = DepthwiseConv2d()
