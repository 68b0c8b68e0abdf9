"""What several ops share: the weighted ops' (conv2d, depthwise_conv2d, fully_connected) checks of
their constant int8 weights and int32 bias and their requantization, and the windowed ops'
(convolutions, pools) output shape and explicit padding."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, saturate, wrap_int32
from edge_deploy.numerics.quant import requant_multipliers
from edge_deploy.numerics.windows import compute_padding, window_output_size
from edge_deploy.ops.base import fused_activation_range, op_error


def check_bias(graph: Graph, op: Op, channels: int) -> None:
    """Raise unless the optional bias (input 2) has ``channels`` values."""
    if len(op.inputs) > 2 and op.inputs[2]:
        bias = graph.tensor(op.inputs[2])
        if int(np.prod(bias.shape)) != channels:
            raise op_error(op, f"bias '{bias.name}' has shape {bias.shape}, expected {channels} values")


def check_weights_quantized(graph: Graph, op: Op) -> None:
    """int8 rules of weights and bias: constant int8 weights with one scale or one per output
    channel, a constant int32 bias."""
    w = graph.tensor(op.inputs[1])
    if w.dtype != "int8" or w.quant is None or not w.is_constant:
        raise op_error(op, f"weights '{w.name}' must be constant int8 with quantization")
    channels = graph.tensor(op.outputs[0]).shape[-1]
    if w.quant.scale.size not in (1, channels):
        raise op_error(op, f"weights '{w.name}' have {w.quant.scale.size} scales for {channels} channels")
    if len(op.inputs) > 2 and op.inputs[2]:
        b = graph.tensor(op.inputs[2])
        if b.dtype != "int32" or not b.is_constant:
            raise op_error(op, f"bias '{b.name}' must be a constant int32 tensor")


def requant_params(graph: Graph, op: Op) -> dict[str, Any]:
    """Offsets, per-channel multipliers and shifts and the activation clamp of a weighted op."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    mults, shifts = requant_multipliers(x.scale, w.quant.scale, y.scale, y.shape[-1])
    act_min, act_max = fused_activation_range(op, y)
    return {"input_offset": -x.zero_point, "output_offset": y.zero_point, "out_mult": mults,
            "out_shift": shifts, "act_min": act_min, "act_max": act_max}


def requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding) -> np.ndarray:
    """int32 accumulators to int8 outputs: requantize, add the output offset, clamp."""
    scaled = multiply_by_quantized_multiplier(wrap_int32(acc), out_mult, out_shift, rounding)
    return saturate(scaled + output_offset, act_min, act_max)


def explicit_padding(graph: Graph, op: Op, filter_hw, dilation) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` padding of a windowed op from its SAME / VALID mode."""
    x = graph.tensor(op.inputs[0]).shape
    pads, _ = compute_padding(x[1:3], tuple(filter_hw), tuple(op.attrs["stride"]), tuple(dilation),
                              op.attrs["padding"])
    return pads


def check_nhwc(op: Op, shape: tuple[int, ...]) -> None:
    """Raise unless input 0's ``shape`` is NHWC (rank 4)."""
    if len(shape) != 4:
        raise op_error(op, f"input '{op.inputs[0]}' must be NHWC (rank 4), got shape {shape}")


def clamp_activation(values: np.ndarray, activation: str) -> np.ndarray:
    """A fused activation ("none", "relu", "relu6") applied in float; returns float32."""
    low, high = {"none": (-np.inf, np.inf), "relu": (0.0, np.inf), "relu6": (0.0, 6.0)}[activation]
    return np.clip(values, low, high).astype(np.float32)


def window_output_shape(graph: Graph, op: Op, filter_hw, dilation, channels: int) -> tuple[int, ...]:
    """NHWC output shape of a windowed op (input 0 NHWC), raising when the window does not fit."""
    x = graph.tensor(op.inputs[0]).shape
    check_nhwc(op, x)
    stride, mode = op.attrs["stride"], op.attrs["padding"]
    oh = window_output_size(x[1], filter_hw[0], stride[0], dilation[0], mode)
    ow = window_output_size(x[2], filter_hw[1], stride[1], dilation[1], mode)
    if oh < 1 or ow < 1:
        raise op_error(op, f"window {filter_hw[0]}x{filter_hw[1]} does not fit input {x[1]}x{x[2]} with {mode} padding")
    return (x[0], oh, ow, channels)
