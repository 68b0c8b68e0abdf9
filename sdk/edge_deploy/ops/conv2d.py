"""CONV_2D: a 2-D convolution with OHWI int8 weights, per-channel requantization and a fused
ReLU / ReLU6. A Conv1D is a conv2d with height 1. C API: ``arm_convolve_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.windows import Padding, compute_padding, window_patches
from edge_deploy.ops._shared import check_bias, check_nhwc, requantize, window_output_shape
from edge_deploy.ops._windowed import WindowedWeightsOp
from edge_deploy.ops.transpose_conv import lower_transposed
from edge_deploy.ops.base import TfliteCode, op_error

# .tflite: builtin code and Conv2DOptions table.
CONV_2D = 3
CONV2D_OPTIONS = 1


def conv2d_s8(
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
    """CONV_2D, int8 per-channel (``arm_convolve_s8``): NHWC x, OHWI w, int32 bias -> NHWC int8.

    ``input_offset = -input_zero_point``, ``output_offset = output_zero_point``, ``out_mult`` /
    ``out_shift`` one per output channel (or scalars), ``padding`` ``(top, bottom, left, right)``,
    ``rounding`` ``"double"`` (TFLM / CMSIS-NN) or ``"single"``. Padded positions contribute
    nothing (they hold the input zero point). Raises ValueError when the shapes disagree.
    """
    if x.ndim != 4 or w.ndim != 4 or x.shape[3] != w.shape[3]:
        raise ValueError(f"conv2d_s8: input {x.shape} and OHWI weights {w.shape} do not match")
    patches, (out_h, out_w) = window_patches(x, w.shape[1:3], stride, dilation, padding, -int(input_offset))
    n = x.shape[0]
    cols = (patches + int(input_offset)).reshape(n * out_h * out_w, -1)
    acc = cols @ w.astype(np.int64).reshape(w.shape[0], -1).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    out = requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)
    return out.reshape(n, out_h, out_w, w.shape[0])


def conv2d_f32(x, w, bias, *, stride, padding, dilation) -> np.ndarray:
    """CONV_2D in float (float64 sums): NHWC x, OHWI w, bias (O,) or None, explicit padding."""
    patches, (oh, ow) = window_patches(x.astype(np.float64), w.shape[1:3], stride, dilation, padding, 0.0)
    out = patches.reshape(x.shape[0] * oh * ow, -1) @ w.astype(np.float64).reshape(w.shape[0], -1).T
    if bias is not None:
        out = out + bias
    return out.reshape(x.shape[0], oh, ow, w.shape[0])


class Conv2d(WindowedWeightsOp):
    kind = "conv2d"
    reference = staticmethod(conv2d_s8)
    float_function = staticmethod(conv2d_f32)
    weight_axis = 0
    tflite_codes = (TfliteCode(CONV_2D, "CONV_2D", 3),)
    tflite_options = CONV2D_OPTIONS
    option_slots = {"padding": 0, "stride_w": 1, "stride_h": 2, "activation": 3, "dilation_w": 4, "dilation_h": 5}
    torch_modules = ("Conv1d", "Conv2d")
    aten_targets = ("conv1d", "conv2d", "convolution")

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        check_nhwc(op, x)
        if len(w) != 4:
            raise op_error(op, f"weights '{op.inputs[1]}' must be rank 4, got shape {w}")
        if w[3] != x[3]:
            raise op_error(op, f"weights OHWI {w} expect {w[3]} input channels, input has {x[3]}")
        check_bias(graph, op, w[0])
        return window_output_shape(graph, op, (w[1], w[2]), op.attrs["dilation"], w[0])

    def taps(self, w_shape: tuple[int, ...]) -> int:
        return w_shape[1] * w_shape[2] * w_shape[3]

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Conv1d / nn.Conv2d, through :func:`lower_convolution`."""
        label = lowering.label(node, module)
        if isinstance(module.padding, str):
            raise lowering.error(f"{label}: string padding is not supported; give explicit integers")
        if module.padding_mode != "zeros":
            raise lowering.error(f"{label}: padding_mode '{module.padding_mode}' cannot be lowered")
        src = lowering.source(node)
        bias = None if module.bias is None else module.bias.detach().double().numpy()
        out = lower_convolution(lowering, label, node.name, src.name, len(src.torch_shape),
                                module.weight.detach().double().numpy(), bias, module.stride, module.padding,
                                module.dilation, module.groups)
        return lowering.value(out, len(src.torch_shape))

    def lower_aten(self, lowering, node) -> Any:
        """``aten.conv1d`` / ``aten.conv2d`` (input, weight, bias, stride, padding, dilation, groups)
        and ``aten.convolution`` (the same with transposed and output_padding before groups)."""
        label = lowering.label(node)
        src = lowering.tensor(node, 0)
        rank = len(src.torch_shape)
        padding = lowering.arg(node, "padding", 0)
        if lowering.arg(node, "transposed", False):
            out = lower_transposed(lowering, label, node.name, src.name, rank, lowering.weight(node, 1),
                                   lowering.weight(node, 2), lowering.arg(node, "stride", 1), padding,
                                   lowering.arg(node, "output_padding", 0), lowering.arg(node, "dilation", 1),
                                   lowering.arg(node, "groups", 1))
            return lowering.result(node, out)
        if isinstance(padding, str):
            raise lowering.error(f"{label}: string padding '{padding}' is not supported; give explicit integers")
        out = lower_convolution(lowering, label, node.name, src.name, rank, lowering.weight(node, 1),
                                lowering.weight(node, 2), lowering.arg(node, "stride", 1), padding,
                                lowering.arg(node, "dilation", 1), lowering.arg(node, "groups", 1))
        return lowering.result(node, out)


def lower_convolution(lowering, label: str, name: str, x: str, rank: int, weight: np.ndarray, bias, stride,
                      padding, dilation, groups: int) -> str:
    """A PyTorch convolution (OI[L] or OIHW ``weight``, float64) on IR tensor ``x`` whose PyTorch
    rank is ``rank`` (3: Conv1d, 4: Conv2d): groups 1 is a conv2d, groups == input channels with
    one input channel per group a depthwise_conv2d, other groups one conv2d per group on a slice
    of the channels, concatenated; PyTorch's symmetric padding is SAME where SAME reads the same
    windows, else an explicit PAD before a VALID convolution. Returns the output tensor."""
    if rank == 3:
        weight = weight[:, :, None, :]  # (O, I, 1, K)
    stride, dilation = lowering.pair(stride, rank), lowering.pair(dilation, rank)
    pads = lowering.pair(padding, rank, height=0)
    builder = lowering.builder
    in_nhwc = builder.graph.tensor(x).shape
    filter_hw = weight.shape[2:4]
    same, same_out = compute_padding(in_nhwc[1:3], filter_hw, stride, dilation, "same")
    torch_out = [(in_nhwc[1 + i] + 2 * pads[i] - (dilation[i] * (filter_hw[i] - 1) + 1)) // stride[i] + 1
                 for i in range(2)]
    if pads == (0, 0):
        mode = "valid"
    elif (same[0], same[2]) == pads and tuple(same_out) == tuple(torch_out):
        mode = "same"  # TFLite's SAME reads exactly the windows PyTorch reads
    else:
        x = builder.pad(x, f"{name}/pad", [(0, 0), (pads[0], pads[0]), (pads[1], pads[1]), (0, 0)])
        mode = "valid"
    groups, in_channels = int(groups), in_nhwc[3]
    window = {"stride": stride, "padding": mode, "dilation": dilation}
    if groups == 1:
        return builder.conv2d(x, name, weight.transpose(0, 2, 3, 1), bias, **window)
    if groups == in_channels and weight.shape[1] == 1:
        return builder.depthwise_conv2d(x, name, weight.transpose(1, 2, 3, 0), bias, **window)
    if in_channels % groups or weight.shape[0] % groups:
        raise lowering.error(f"{label}: {groups} groups do not divide {in_channels} input and {weight.shape[0]} "
                             "output channels")
    per_in, per_out = in_channels // groups, weight.shape[0] // groups
    shape = builder.graph.tensor(x).shape
    parts = []
    for g in range(groups):
        part = builder.slice(x, f"{name}/group{g}/in", (0, 0, 0, g * per_in), (*shape[:3], (g + 1) * per_in))
        w = weight[g * per_out:(g + 1) * per_out].transpose(0, 2, 3, 1)
        b = None if bias is None else bias[g * per_out:(g + 1) * per_out]
        parts.append(builder.conv2d(part, f"{name}/group{g}", w, b, **window))
    return builder.concatenation(parts, name, axis=3)


OP = Conv2d()
