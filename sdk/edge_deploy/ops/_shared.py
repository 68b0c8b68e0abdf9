"""What several ops share: the weighted ops' (conv2d, depthwise_conv2d, fully_connected) checks of
their constant int8 weights and int32 bias and their requantization, and the windowed ops'
(convolutions, pools) output shape and explicit padding."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import ROUNDING_MODES, multiply_by_quantized_multiplier, saturate, wrap_int32
from edge_deploy.numerics.quant import requant_multipliers
from edge_deploy.numerics.windows import compute_padding, window_output_size
from edge_deploy.ops.base import MAX_TENSOR_ELEMENTS, fused_activation_range, op_error


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
    zero_points = np.asarray(w.quant.zero_point)
    # Convolutions take symmetric weights (TFLite's int8 conv requires zero points of 0); fully
    # connected also takes one int8 zero point (its filter offset).
    allowed = (0, 0) if op.kind != "fully_connected" or w.quant.per_channel else (-128, 127)
    if np.any(zero_points < allowed[0]) or np.any(zero_points > allowed[1]):
        raise op_error(op, f"weights '{w.name}' have zero point(s) {zero_points[:4].tolist()}; "
                           + ("int8 weights here must be symmetric (zero point 0)" if allowed == (0, 0)
                              else "a zero point must be in -128..127"),
                       "quantize the weights again (symmetric int8)")
    if len(op.inputs) > 2 and op.inputs[2]:
        b = graph.tensor(op.inputs[2])
        if b.dtype != "int32" or not b.is_constant:
            raise op_error(op, f"bias '{b.name}' must be a constant int32 tensor")


def requant_params(graph: Graph, op: Op, weight_axis: int) -> dict[str, Any]:
    """Offsets, per-channel multipliers and shifts and the activation clamp of a weighted op
    (``weight_axis``: the output-channel axis of its weights). A channel whose weights are all
    zero outputs a constant; its multiplier and shift are re-expressed on the fast path when some
    pair gives that constant in both roundings (:func:`constant_channels_on_fast_path`)."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    mults, shifts = requant_multipliers(x.scale, w.quant.scale, y.scale, y.shape[-1])
    act_min, act_max = fused_activation_range(op, y)
    if w.quant.scale.size > 1 and w.data is not None:  # per-channel (symmetric) weights: a zero adds nothing
        weights = np.moveaxis(np.asarray(w.data), weight_axis, 0).reshape(y.shape[-1], -1)
        bias = (np.asarray(graph.tensor(op.inputs[2]).data, dtype=np.int64).reshape(-1)
                if len(op.inputs) > 2 and op.inputs[2] else np.zeros(y.shape[-1], dtype=np.int64))
        mults, shifts = constant_channels_on_fast_path(weights, bias, mults, shifts, y.zero_point, act_min, act_max)
    return {"input_offset": -x.zero_point, "output_offset": y.zero_point, "out_mult": mults,
            "out_shift": shifts, "act_min": act_min, "act_max": act_max}


def constant_channels_on_fast_path(weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
                                   output_offset: int, act_min: int, act_max: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mults, shifts)`` with each channel whose ``weights`` row is all zero given the pair with
    the smallest right shift that requantizes its accumulator (the bias alone, in every kernel) to
    the same output in both roundings. Such channels are common: batch norm folded over a dead
    channel leaves zero weights, a tiny scale (shifts down to -31) and a bias near +-2^30 (MLPerf
    Tiny's VWW has them in nine layers), and a shift that large is off every C kernel's fast
    requantization (each takes a non-negative multiplier and small right shifts; the range is
    the kernel's own fact). The output is unchanged bit for bit (each candidate is checked with
    TFLite's arithmetic); a channel with no such pair keeps its own."""
    mults, shifts = np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)
    for c in np.flatnonzero(~np.any(weights != 0, axis=1)):
        pair = _constant_channel_pair(int(bias[c]), int(mults[c]), int(shifts[c]), int(output_offset), int(act_min),
                                      int(act_max))
        if pair is not None:
            mults[c], shifts[c] = pair
    return mults, shifts


@functools.lru_cache(maxsize=4096)
def _constant_channel_pair(acc: int, mult: int, shift: int, output_offset: int, act_min: int,
                           act_max: int) -> tuple[int, int] | None:
    """The smallest-shift (multiplier, shift) giving accumulator ``acc`` the output ``(mult,
    shift)`` gives it in both roundings, or None where the roundings disagree or no pair does.
    Cached on the values: kernel parameters are asked for many times per build."""
    def outputs(m: int, e: int) -> list[int]:
        return [int(requantize(acc, m, e, output_offset, act_min, act_max, r)) for r in ROUNDING_MODES]

    want = outputs(mult, shift)
    if want[0] != want[1]:
        return None  # the two roundings disagree on this channel: keep it as it is
    # Shift by shift from the smallest, TFLite's normalized multiplier 2^30 first (it reaches a
    # clamped output when the accumulator is large; kernels whose fast path needs a normalized
    # multiplier then take the channel too), then the multiplier that scales the accumulator to
    # the pre-offset value d, then 1 (for d = 0). A positive multiplier keeps the
    # requantization monotonic (a max pool may be fused before it); multiplier 0 (the output
    # offset, clamped) comes last. With a positive multiplier of its own, the channel tries no
    # shift beyond its own.
    d = want[0] - output_offset
    candidates = []
    for e in range(1, max(1, -shift) + 1 if mult > 0 else 32):
        scaled = int(round(d * 2.0 ** (31 + e) / acc)) if acc else 0
        candidates += [(1 << 30, -e)] + ([(scaled, -e)] if scaled > 0 else []) + [(1, -e)]
    for m, e in candidates + [(0, -1)]:
        if m < 2**31 and outputs(m, e) == want:
            return m, e
    return None


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
    top, bottom, left, right = explicit_padding(graph, op, filter_hw, dilation)
    padded = x[0] * (x[1] + top + bottom) * (x[2] + left + right) * x[3]
    if padded > MAX_TENSOR_ELEMENTS:
        raise op_error(op, f"a {filter_hw[0]}x{filter_hw[1]} window with dilation {tuple(dilation)} pads input "
                           f"{tuple(x)} to {padded:,} elements, beyond any microcontroller model",
                       "the file is probably corrupt; export it again")
    return (x[0], oh, ow, channels)
