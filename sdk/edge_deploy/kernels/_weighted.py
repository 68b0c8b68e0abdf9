"""What the kernels of weighted ops (convolutions, depthwise, fully connected; dense, sparse,
Winograd) put in a layer's context besides their weights: the requantization constants and
arrays, the bias, the window fields, and shared applicability and cost counts."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float, dims, shape_text
from edge_deploy.kernels.base import CArray, KernelContext, LayerCall

LAYOUTS = {"conv2d": "OHWI", "depthwise_conv2d": "1HWO", "fully_connected": "(out, in)"}


def _per_channel(values, channels: int) -> np.ndarray:
    arr = np.asarray(values).reshape(-1)
    return np.full(channels, arr[0]) if arr.size == 1 else arr


def scales_text(call: LayerCall) -> str:
    """``0.001f .. 0.004f, per channel``: the weights' scales for comments."""
    w = call.weights
    kind = "per channel" if w.quant.per_channel else "per tensor"
    return f"{c_float(w.quant.scale.min())} .. {c_float(w.quant.scale.max())}, {kind}"


def weights_comment(call: LayerCall) -> str:
    """The start of the weight array's comment: ``weights OHWI (16, 1, 64, 1), scales ...``."""
    return f"weights {LAYOUTS[call.kind]} {shape_text(call.weights.shape)}, scales {scales_text(call)}"


INT32_RANGE = (-(1 << 31), (1 << 31) - 1)


def weight_sums(call: LayerCall) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel the sum of its int8 weights and the sum of their magnitudes (int64)."""
    rows = np.asarray(call.weight_rows, dtype=np.int64)
    return rows.sum(axis=1), np.abs(rows).sum(axis=1)


def channel_requant(call: LayerCall) -> tuple[np.ndarray, np.ndarray]:
    """The requantization multiplier and shift of every output channel (a per-tensor pair
    repeated), as int32 arrays."""
    channels = int(call.output.shape[-1])
    return tuple(_per_channel(call.params[key], channels).astype(np.int32) for key in ("out_mult", "out_shift"))


def folded_bias(call: LayerCall, weight_sums: np.ndarray) -> np.ndarray:
    """``bias[c] + input_offset * weight_sums[c]`` per output channel as int64: the bias of a
    kernel that multiplies the raw inputs (the offset folded in; the caller checks it fits int32)."""
    bias = np.zeros(len(weight_sums), dtype=np.int64) if call.bias is None else \
        np.asarray(call.bias.data, dtype=np.int64).reshape(-1)
    return bias + int(call.params["input_offset"]) * np.asarray(weight_sums, dtype=np.int64)


def raw_accumulators_fit(bias: np.ndarray, abs_weight_sums: np.ndarray, limit: int = INT32_RANGE[1]) -> bool:
    """True when every accumulator ``bias[c] + sum x * w`` over raw int8 inputs stays within
    +-``limit`` (default: int32)."""
    worst = np.abs(np.asarray(bias, dtype=np.int64)) + 128 * np.asarray(abs_weight_sums, dtype=np.int64)
    return bool(worst.max(initial=0) <= limit)


def weighted_context(call: LayerCall, weight_arrays: list[CArray], bias: CArray | None = None) -> KernelContext:
    """The context of a weighted layer with its weights in ``weight_arrays`` (this kernel's
    encoding): offsets, clamp, bias (the layer's, or ``bias``: a kernel's own, e.g. with the
    input offset folded in), requantization (arrays per channel, constants per tensor), shapes,
    and for windowed ops the stride, padding and dilation."""
    p, x, y, w = call.params, call.input, call.output, call.weights
    ctx = KernelContext()
    activation = call.op.attrs.get("activation", "none")
    ctx.constant("INPUT_OFFSET", p["input_offset"], f"-(input zero point); input scale {c_float(x.scale)}")
    ctx.constant("OUTPUT_OFFSET", p["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
    ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{activation}', in output units")
    ctx.constant("ACT_MAX", p["act_max"])
    channels = int(y.shape[-1])
    ctx.arrays += weight_arrays
    has_bias = call.bias is not None or bias is not None
    if bias is not None:
        ctx.arrays.append(bias)
    elif has_bias:
        ctx.arrays.append(CArray("bias", "int32_t", call.bias.data, "bias, int32, scale input_scale * weight_scale[c]"))
    per_channel = requant_per_channel(call)
    if per_channel:
        ctx.arrays.append(CArray("out_mult", "int32_t", _per_channel(p["out_mult"], channels),
                                 "requantization multipliers (Q31), one per output channel"))
        ctx.arrays.append(CArray("out_shift", "int32_t", _per_channel(p["out_shift"], channels),
                                 "requantization shifts (left shift when > 0), one per output channel"))
    else:
        ctx.constant("OUT_MULT", _per_channel(p["out_mult"], 1)[0], "requantization multiplier (Q31)")
        ctx.constant("OUT_SHIFT", _per_channel(p["out_shift"], 1)[0], "requantization shift")
    ctx.comment.append(f"weights {shape_text(w.shape)}, scales {scales_text(call)}")
    ctx.fields.update(has_bias=has_bias, per_channel=per_channel, channels=channels)
    if call.kind == "fully_connected":
        fc_fields(call, ctx)
    else:
        ctx.fields.update(window_fields(p), filter_dims=dims(w.shape))
        if call.kind == "depthwise_conv2d":
            ctx.fields["ch_mult"] = channels // int(x.shape[3])
    return ctx


def requant_per_channel(call: LayerCall) -> bool:
    """True when the layer's requantization goes to its kernel as arrays, one multiplier and
    shift per output channel: every convolution, and a fully connected layer with per-channel
    weights (else one constant pair for the layer)."""
    return call.kind != "fully_connected" or bool(call.weights.quant.per_channel)


def window_fields(params: dict) -> dict[str, int]:
    """Stride, explicit padding, dilation (when given) and clamp of a windowed op, as C fields."""
    top, bottom, left, right = (int(v) for v in params["padding"])
    fields = {"stride_h": int(params["stride"][0]), "stride_w": int(params["stride"][1]),
              "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right}
    if "dilation" in params:
        fields.update(dilation_h=int(params["dilation"][0]), dilation_w=int(params["dilation"][1]))
    return fields


def conv_positions(call: LayerCall) -> tuple[int, int]:
    """``(output positions, batch rows)`` of a conv: positions per row of the batch."""
    out = call.output.shape
    return int(np.prod(out[1:3])), int(out[0])


def fc_rows(call: LayerCall) -> int:
    """Rows (batch) of a fully connected layer, or of a pointwise convolution run as one (its
    positions): the input's elements over the weights' depth."""
    return int(np.prod(call.input.shape)) // int(call.weight_rows.shape[1])


def pointwise_refusal(call: LayerCall) -> str | None:
    """Why a convolution is not a fully connected layer over its positions (None when it is: a
    1 x 1 window at stride 1 without padding, each output position's pixel one input row)."""
    p = call.params
    if tuple(int(v) for v in call.weights.shape[1:3]) != (1, 1):
        return "not a 1 x 1 convolution"
    if any(int(v) for v in p["padding"]) or (tuple(int(v) for v in p["stride"]) != (1, 1)
                                               and tuple(int(v) for v in call.input.shape[1:3]) != (1, 1)):
        return "a 1 x 1 convolution with padding or a stride: its positions are not the input's rows"
    return None


def fc_fields(call: LayerCall, ctx: KernelContext) -> None:
    """The fields and filter offset of the fully connected call form (rows x depth inputs, depth x
    units weights) in ``ctx``: a fully connected layer's, or a pointwise convolution's (weights
    symmetric: filter offset 0)."""
    units, depth = (int(v) for v in call.weight_rows.shape)
    ctx.constant("FILTER_OFFSET", call.params.get("filter_offset", 0), "-(weights zero point)")
    ctx.fields.update(depth=depth, units=units, rows=fc_rows(call))


def zero_weight_offset(call: LayerCall) -> str | None:
    """Why a kernel that drops zero weights cannot run the layer: a nonzero weight zero point."""
    if int(np.abs(call.weights.quant.zero_point).max()) != 0:
        return "weight zero point is not 0: zeros are not absent weights"
    return None
