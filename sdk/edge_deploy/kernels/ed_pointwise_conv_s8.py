"""``ed_pointwise_conv_s8``: edge-deploy's pointwise convolution (1 x 1 window, stride 1, no
padding) as a GEMM over the pixels in two passes per block of pixels
(firmware/include/ed_pointwise_conv.h): the 3 x 2 dot products of every pair of pixels into a
block of int32 sums, then each output channel's requantization over the whole block with its
constants held, and channels off the fast requantization one by one, not the whole layer."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import conv2d
from edge_deploy.kernels._weighted import (channel_requant, folded_bias, raw_accumulators_fit, weight_sums,
                                           weighted_context, weights_comment)
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall
from edge_deploy.kernels.ed_convolve_s8 import on_fast_path

ACCUMULATOR_LIMIT = (1 << 31) - (1 << 27)
"""|accumulator| bound of the kernel: the fast requantization adds a rounding word of up to 2^26
to a value as large as the accumulator, in int32 (ed_pointwise_conv_s8.c)."""

SUMS_BYTES, MIN_PIXELS = 4096, 8
"""ED_PW_SUMS_BYTES and ED_PW_MIN_PIXELS of ed_pointwise_conv_s8.c: the int32 sums of one block of
pixels, and the fewest pixels a block has."""


def pack_stream(rows: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(cout, cin) int8 weight rows and cout int32 folded biases as the kernel reads them
    (ed_pointwise_conv.h): cin padded with zeros to a multiple of 4, the channels with zero rows
    (and zero biases) to a multiple of 3; per block of three channels its three biases, then per
    group of four input channels one word per channel (its four int8 weights, the first in the
    low byte)."""
    cout, cin = rows.shape
    k4, c3 = -(-cin // 4) * 4, -(-cout // 3) * 3
    padded = np.zeros((c3, k4), dtype=np.int8)
    padded[:cout, :cin] = rows
    words = padded.reshape(c3 // 3, 3, k4 // 4, 4).transpose(0, 2, 1, 3)  # (block, group, channel, byte)
    words = np.ascontiguousarray(words).view("<u4").reshape(c3 // 3, -1)
    biases = np.zeros(c3, dtype=np.int64)
    biases[:cout] = bias
    biases = biases.astype(np.int32).view(np.uint32).reshape(c3 // 3, 3)
    return np.concatenate([biases, words.astype(np.uint32)], axis=1).reshape(-1)


def block_pixels(pixels: int, cout: int) -> int:
    """Pixels per block (ed_pw_block_pixels): as many as SUMS_BYTES of sums hold, even, at least
    MIN_PIXELS, at most the pixels rounded up to even."""
    c3 = -(-cout // 3) * 3
    block = max(MIN_PIXELS, (SUMS_BYTES // (4 * c3)) & ~1)
    return min(block, (pixels + 1) & ~1)


def _counts(call: LayerCall) -> tuple[int, int, int, int]:
    """(pixels, cin, cout, groups of four input channels)."""
    pixels = int(np.prod(call.input.shape[:3]))
    cin, cout = int(call.input.shape[3]), int(call.output.shape[3])
    return pixels, cin, cout, -(-cin // 4)


class EdPointwiseConvS8(KernelSpec):
    name = "ed_pointwise_conv_s8"
    op = "conv2d"
    header = "ed_pointwise_conv.h"
    code_bytes = 1856  # 1,824 B of Thumb-2 (arm-none-eabi-size of the object, -O2, the driver -Os), rounded up
    # Per pair of pixels and block of three channels its groups (the SMLAD loop) and its
    # bookkeeping (biases in, six sums out); per pair of pixels the two columns' groups and the
    # pass's setup; per output its requantization; per channel and block of pixels the second
    # pass's setup; per channel its prepared constants; the call.
    # ... and per output of a channel off the fast requantization (ed_pw_q_prepare: the same
    # condition as ed_convolve_s8's), TFLite's arithmetic in C.
    cost_terms = ("block_groups", "pair_blocks", "pair_groups", "pairs", "outputs", "channel_blocks", "channels",
                  "calls", "slow_outputs")
    calibration = (
        conv2d(48, 48, 8, 16, 1, 1, "valid"), conv2d(24, 24, 16, 32, 1, 1, "valid"),
        conv2d(24, 24, 32, 32, 1, 1, "valid"), conv2d(12, 12, 32, 64, 1, 1, "valid"),
        conv2d(12, 12, 64, 64, 1, 1, "valid"), conv2d(6, 6, 64, 128, 1, 1, "valid"),
        conv2d(25, 5, 64, 64, 1, 1, "valid"), conv2d(10, 10, 8, 24, 1, 1, "valid"),
        conv2d(6, 6, 32, 32, 1, 1, "valid"), conv2d(7, 9, 12, 10, 1, 1, "valid"),
        conv2d(5, 5, 6, 7, 1, 1, "valid"), conv2d(16, 16, 4, 8, 1, 1, "valid"),
        conv2d(3, 3, 128, 256, 1, 1, "valid"), conv2d(20, 20, 16, 5, 1, 1, "valid"),
        conv2d(24, 24, 32, 32, 1, 1, "valid", slow_channel=True), conv2d(12, 12, 64, 64, 1, 1, "valid", slow_channel=True))

    def applies(self, call: LayerCall) -> str | None:
        kh, kw = (int(v) for v in call.weights.shape[1:3])
        p = call.params
        if (kh, kw) != (1, 1):
            return f"a {kh}x{kw} window, not 1x1"
        if tuple(int(v) for v in p["stride"]) != (1, 1) or any(int(v) != 0 for v in p["padding"]):
            return "stride or padding: the pixels are not the patches"
        if int(np.abs(call.weights.quant.zero_point).max()) != 0:
            return "weight zero point is not 0"
        sums, abs_sums = weight_sums(call)
        if not raw_accumulators_fit(folded_bias(call, sums), abs_sums, limit=ACCUMULATOR_LIMIT):
            return "an accumulator (the bias with the input offset folded in) could reach 2^31 - 2^27"
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        pixels, _, cout, groups = _counts(call)
        c3 = -(-cout // 3) * 3
        return 16 * groups + 4 * c3 * block_pixels(pixels, cout) + 12 * cout

    def cost_features(self, call: LayerCall) -> list[float]:
        pixels, _, cout, groups = _counts(call)
        pairs, blocks = -(-pixels // 2), -(-cout // 3)
        pixel_blocks = -(-pixels // block_pixels(pixels, cout))
        slow = sum(not on_fast_path(int(m), int(s)) for m, s in zip(*channel_requant(call)))
        return [pairs * blocks * groups, pairs * blocks, pairs * groups, pairs, pixels * cout, pixel_blocks * cout,
                cout, 1, pixels * slow]

    def facts(self, call: LayerCall) -> dict:
        pixels, _, cout, groups = _counts(call)
        return {"groups": groups, "channel_blocks": -(-cout // 3), "block_pixels": block_pixels(pixels, cout)}

    def context(self, call: LayerCall) -> KernelContext:
        sums, _ = weight_sums(call)
        rows = np.asarray(call.weight_rows)
        k4 = -(-rows.shape[1] // 4) * 4
        packed = CArray("packed", "uint32_t", pack_stream(rows, folded_bias(call, sums)),
                        f"{weights_comment(call)}; per block of 3 channels its folded biases (bias + "
                        f"input_offset * sum of the channel's weights) then its weights, input channels padded to "
                        f"{k4} (ed_pointwise_conv.h)")
        ctx = weighted_context(call, [packed])
        ctx.arrays = [a for a in ctx.arrays if a.name != "bias"]  # the biases are in the packed stream
        return ctx


KERNEL = EdPointwiseConvS8()
