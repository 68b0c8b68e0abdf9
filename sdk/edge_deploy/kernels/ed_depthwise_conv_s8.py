"""``ed_depthwise_conv_s8``: edge-deploy's depthwise convolution (firmware/include/ed_depthwise.h):
four output channels per pass over gathered input rows, int16 weights packed at build time, the
input offset folded into the bias. Any kernel size, stride, padding, dilation and multiplier."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import depthwise
from edge_deploy.kernels._weighted import (channel_requant, folded_bias, raw_accumulators_fit, weight_sums,
                                           weighted_context, weights_comment)
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall

MAX_KH = 16  # ED_DW_MAX_KH


def pack_weights(w: np.ndarray) -> np.ndarray:
    """1HWO int8 weights as the kernel reads them: per group of four output channels (zero
    padded), per tap in kx-major order, the int16 pairs (c0, c2) and (c1, c3) as uint32 words."""
    _, kh, kw, cout = w.shape
    groups = -(-cout // 4)
    padded = np.zeros((kh, kw, groups * 4), dtype=np.int64)
    padded[:, :, :cout] = w[0]
    # (kh, kw, g, 4) -> (g, kw, kh, 4): taps kx-major within a group
    taps = padded.reshape(kh, kw, groups, 4).transpose(2, 1, 0, 3)
    lo = taps[..., [0, 1]] & 0xFFFF
    hi = taps[..., [2, 3]] & 0xFFFF
    return (lo | (hi << 16)).astype(np.uint32).reshape(-1)


def fast_requant(multiplier: int, shift: int) -> bool:
    """True when ``ed_requant_out_prepare`` puts a channel on the fast path (a right shift of 1 to
    23 and a non-negative multiplier: hi_shift >= 0 with the output offset folded in)."""
    return multiplier >= 0 and -23 <= shift <= -1


def geometry(call: LayerCall) -> dict[str, int]:
    """The counts the kernel's time is linear in, and its ring's size."""
    p = call.params
    _, kh, kw, cout = (int(v) for v in call.weights.shape)
    out_h, out_w = int(call.output.shape[1]), int(call.output.shape[2])
    batches = int(call.output.shape[0])
    stride_h, stride_w = (int(v) for v in p["stride"])
    dil_h, dil_w = (int(v) for v in p["dilation"])
    groups = -(-cout // 4)
    columns = (out_w - 1) * stride_w + (kw - 1) * dil_w + 1
    # Ring rows gathered per group: with dilation 1 every input row the windows touch, once.
    if dil_h == 1:
        gathered_rows = kh * out_h if stride_h >= kh else (out_h - 1) * stride_h + kh
    else:
        gathered_rows = out_h * kh
    mult = cout // int(call.input.shape[3])
    # Groups gathered byte by byte: all with a multiplier, else a last group of fewer than 4.
    bytewise_groups = groups if mult != 1 else int(cout % 4 != 0)
    # Groups on the unrolled 3 x 3 path: four channels, each on the fast requantization.
    mults, shifts = channel_requant(call)
    fast = [all(fast_requant(int(mults[c]), int(shifts[c])) for c in range(4 * g, min(cout, 4 * g + 4)))
            for g in range(groups)]
    unrolled = sum(1 for g in range(groups) if fast[g] and 4 * g + 4 <= cout) if (kh, kw, dil_w) == (3, 3, 1) else 0
    per_group = batches * gathered_rows * columns
    pixels = batches * out_h * out_w
    return {"groups": groups, "columns": columns, "rows": batches * out_h, "pixels": pixels, "taps": kh * kw,
            "unrolled_pixels": unrolled * pixels, "other_pixels": (groups - unrolled) * pixels,
            "gathered_words": groups * per_group, "bytewise_words": bytewise_groups * per_group,
            "scratch": kh * columns * 4}


class EdDepthwiseConvS8(KernelSpec):
    name = "ed_depthwise_conv_s8"
    op = "depthwise_conv2d"
    header = "ed_depthwise.h"
    code_bytes = 2816  # 2,650 B measured (arm-none-eabi-nm, -O2), rounded up
    # Per group of four channels: each output pixel on the unrolled 3 x 3 path (nine taps, the
    # requantization, the store), each tap and pixel on the general path, each output row's
    # set-up, every gathered word (its byte-wise gather when the multiplier is not 1 or the
    # channels are not a multiple of 4), the group's set-up (its requantization constants).
    cost_terms = ("unrolled_pixels", "other_taps", "other_pixels", "group_rows", "gathered_words", "bytewise_words",
                  "groups", "calls")
    calibration = (depthwise(24, 24, 16, 1, 3, 1, "same"), depthwise(24, 24, 16, 1, 3, 2, "same"),
                   depthwise(12, 12, 64, 1, 3, 1, "same"), depthwise(6, 6, 128, 1, 3, 2, "same"),
                   depthwise(25, 5, 64, 1, 3, 1, "same"), depthwise(3, 3, 256, 1, 3, 1, "same"),
                   depthwise(10, 8, 1, 8, 3, 2, "same"), depthwise(7, 5, 6, 1, 3, 1, "same"),
                   depthwise(16, 12, 2, 4, 5, 1, "valid"), depthwise(48, 48, 8, 1, 3, 1, "same"),
                   depthwise(12, 12, 64, 1, 3, 2, "same"), depthwise(6, 6, 128, 1, 3, 1, "same"),
                   depthwise(9, 9, 12, 1, 5, 2, "same"), depthwise(20, 10, 1, 4, 1, 1, "valid"))

    def applies(self, call: LayerCall) -> str | None:
        if call.weights.shape[1] > MAX_KH:
            return f"window height {call.weights.shape[1]} > {MAX_KH}"
        if int(np.abs(call.weights.quant.zero_point).max()) != 0:
            return "weight zero point is not 0"
        if not -127 <= int(call.params["input_offset"]) <= 128:
            return "the input zero point is not an int8 value (the padding reads it)"
        sums, abs_sums = weight_sums(call)
        if not raw_accumulators_fit(folded_bias(call, sums), abs_sums):
            return "the bias with the input offset folded in could leave int32"
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        return geometry(call)["scratch"]

    def cost_features(self, call: LayerCall) -> list[float]:
        g = geometry(call)
        return [g["unrolled_pixels"], g["other_pixels"] * g["taps"], g["other_pixels"], g["groups"] * g["rows"],
                g["gathered_words"], g["bytewise_words"], g["groups"], 1]

    def facts(self, call: LayerCall) -> dict:
        g = geometry(call)
        return {"channel_groups": g["groups"], "ring_columns": g["columns"]}

    def context(self, call: LayerCall) -> KernelContext:
        sums, _ = weight_sums(call)
        weights = CArray("weights_packed", "uint32_t", pack_weights(np.asarray(call.weights.data)),
                         f"{weights_comment(call)}, packed as int16 pairs (c0, c2), (c1, c3) per group of 4 "
                         "channels and tap (ed_depthwise.h)")
        bias = CArray("bias_folded", "int32_t", folded_bias(call, sums).astype(np.int32),
                      "bias + input_offset * sum of the channel's weights (ed_depthwise.h)")
        ctx = weighted_context(call, [weights], bias=bias)
        ctx.comment.append(f"{geometry(call)['groups']} groups of 4 channels over a ring of gathered rows")
        return ctx


KERNEL = EdDepthwiseConvS8()
