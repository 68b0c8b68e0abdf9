"""DEPTHWISE_CONV_2D: each input channel convolved with its own ``depth_multiplier`` filters
(1HWO int8 weights, output channel ``o`` reads input channel ``o // multiplier``), per-channel
requantization, fused ReLU / ReLU6. C API: ``arm_depthwise_conv_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.windows import Padding, window_patches
from edge_deploy.ops._shared import (
    check_bias,
    check_nhwc,
    check_weights_quantized,
    clamp_activation,
    explicit_padding,
    requant_params,
    requantize,
    window_output_shape,
)
from edge_deploy.ops.base import ACTIVATION, DILATION, PADDING, STRIDE, Attr, OpDef, TfliteCode, op_error

DEPTHWISE_CONV_2D = 4
DEPTHWISE_CONV2D_OPTIONS = 2
PADDING_SLOT, STRIDE_W, STRIDE_H, MULTIPLIER_SLOT, ACTIVATION_SLOT, DILATION_W, DILATION_H = 0, 1, 2, 3, 4, 5, 6

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


class DepthwiseConv2d(OpDef):
    kind = "depthwise_conv2d"
    reference = staticmethod(depthwise_conv2d_s8)
    attrs = (STRIDE, DILATION, PADDING, ACTIVATION, DEPTH_MULTIPLIER)
    arity = (2, 3)
    weight_axis = 3
    rounding_sensitive = True
    tflite_codes = (TfliteCode(DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 3),)
    tflite_data_inputs = 3

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

    def macs(self, graph: Graph, op: Op) -> int:
        w = graph.tensor(op.inputs[1]).shape
        return int(np.prod(graph.tensor(op.outputs[0]).shape)) * w[1] * w[2]

    def check_quantized(self, graph: Graph, op: Op) -> None:
        check_weights_quantized(graph, op)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        w = graph.tensor(op.inputs[1]).shape
        return {**requant_params(graph, op), "stride": tuple(op.attrs["stride"]),
                "dilation": tuple(op.attrs["dilation"]),
                "padding": explicit_padding(graph, op, (w[1], w[2]), op.attrs["dilation"])}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return depthwise_conv2d_s8(args[0], args[1], args[2] if len(args) > 2 else None, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        w = args[1]
        out = depthwise_conv2d_f32(args[0], w, args[2] if len(args) > 2 else None, stride=tuple(op.attrs["stride"]),
                                   padding=explicit_padding(graph, op, w.shape[1:3], op.attrs["dilation"]),
                                   dilation=tuple(op.attrs["dilation"]))
        return clamp_activation(out, op.attrs["activation"])

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        return {"stride": (reader.option(STRIDE_H, "<i", 1), reader.option(STRIDE_W, "<i", 1)),
                "dilation": (reader.option(DILATION_H, "<i", 1), reader.option(DILATION_W, "<i", 1)),
                "padding": reader.padding(PADDING_SLOT), "activation": reader.activation(ACTIVATION_SLOT),
                "depth_multiplier": max(1, reader.option(MULTIPLIER_SLOT, "<i", 1))}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        a = op.attrs
        return writer.table(DEPTHWISE_CONV2D_OPTIONS, [
            (PADDING_SLOT, "padding", a["padding"]), (STRIDE_W, "i32", a["stride"][1]),
            (STRIDE_H, "i32", a["stride"][0]), (MULTIPLIER_SLOT, "i32", self.attr(op, "depth_multiplier")),
            (ACTIVATION_SLOT, "activation", a["activation"]), (DILATION_W, "i32", a["dilation"][1]),
            (DILATION_H, "i32", a["dilation"][0])])

    def build(self, builder, x, name, weights, bias=None, *, stride=(1, 1), padding="valid", dilation=(1, 1),
              activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """DEPTHWISE_CONV_2D of ``x`` with 1HWO ``weights``."""
        ins = [x] + builder.weights(name, weights, bias, w_quant, b_quant)
        multiplier = np.asarray(weights).shape[3] // builder.graph.tensor(x).shape[3]
        attrs = {"stride": tuple(stride), "dilation": tuple(dilation), "padding": padding,
                 "activation": activation, "depth_multiplier": multiplier}
        return builder.op(self.kind, name, ins, attrs, quant)


OP = DepthwiseConv2d()
