"""``ed_convolve_s8``: edge-deploy's convolution as a register-blocked GEMM (firmware/include/ed_convolve.h):
two output positions x three output channels per pass over widened patch columns, the weights
packed at build time (patch padded to whole words, channels in blocks of three), the input offset
folded into the bias. Any window, stride, padding and dilation."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import CONV_1D, CONV_2D, conv2d
from edge_deploy.kernels._weighted import (conv_positions, folded_bias, raw_accumulators_fit, weighted_context,
                                           weights_comment)
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


ACCUMULATOR_LIMIT = (1 << 31) - (1 << 27)
"""|accumulator| bound of the kernel: its requantization adds a rounding word of up to 2^26 to a
value as large as the accumulator, in int32 (ed_convolve_s8.c)."""


def pack_weights(rows: np.ndarray) -> np.ndarray:
    """(cout, k) int8 weight rows as the kernel reads them: k padded with zeros to a multiple of 4,
    the channels with zero rows to a multiple of 3; per block of three channels, per group of four
    patch elements, one word per channel (its four int8 weights, the first in the low byte)."""
    cout, k = rows.shape
    k4, c3 = -(-k // 4) * 4, -(-cout // 3) * 3
    padded = np.zeros((c3, k4), dtype=np.int8)
    padded[:cout, :k] = rows
    blocks = padded.reshape(c3 // 3, 3, k4 // 4, 4).transpose(0, 2, 1, 3)  # (block, group, channel, byte)
    return np.ascontiguousarray(blocks).view("<u4").reshape(-1).astype(np.uint32)


def patch_counts(call: LayerCall) -> tuple[int, int]:
    """(patch length k, k rounded up to whole words)."""
    k = int(call.weight_rows.shape[1])
    return k, -(-k // 4) * 4


class EdConvolveS8(KernelSpec):
    name = "ed_convolve_s8"
    op = "conv2d"
    header = "ed_convolve.h"
    code_bytes = 6144  # 6,054 B of Thumb-2 measured (arm-none-eabi-nm of a VWW build, -O2), rounded up
    # Per pair of positions and block of three channels: the groups of four patch elements (the
    # SMLAD loop; a short last block of one or two channels skips its zero rows, its groups
    # weighted by their loop's model cycles against the whole block's: 13 and 19 of 28) and the
    # block's requantizations; per pair of 1x1 patches or per column of a window inside the input
    # (dilation_w 1, rows of at least 4 bytes) built straight from the input (rows of whole
    # words) or through the int8 staging copy (ed_conv_column_tight), per column of any other
    # window (in the padding, rows of 1 to 3 bytes, dilated columns; ed_conv_column_any), the
    # columns' groups (widening); per output channel its prepared requantization.
    cost_terms = ("block_groups", "blocks", "pointwise_pairs", "direct_columns", "staged_columns", "column_groups",
                  "channels", "calls", "tight_columns")
    calibration = tuple(CONV_1D + CONV_2D) + (
        conv2d(48, 48, 8, 16, 1, 1, "valid"), conv2d(24, 24, 32, 32, 1, 1, "valid"), conv2d(12, 12, 64, 64, 1, 1, "valid"),
        conv2d(25, 5, 64, 64, 1, 1, "valid"), conv2d(32, 32, 3, 16, 3, 1, "same"), conv2d(16, 16, 16, 16, 3, 1, "same"),
        conv2d(8, 8, 32, 64, 3, 2, "same"), conv2d(49, 10, 1, 16, 4, 2, "same"))

    def _sums(self, call: LayerCall) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(call.weight_rows, dtype=np.int64)
        return rows.sum(axis=1), np.abs(rows).sum(axis=1)

    def applies(self, call: LayerCall) -> str | None:
        if int(np.abs(call.weights.quant.zero_point).max()) != 0:
            return "weight zero point is not 0"
        if not -127 <= int(call.params["input_offset"]) <= 128:
            return "the input zero point is not an int8 value (the padding reads it)"
        sums, abs_sums = self._sums(call)
        if not raw_accumulators_fit(folded_bias(call, sums), abs_sums, limit=ACCUMULATOR_LIMIT):
            return "an accumulator (the bias with the input offset folded in) could reach 2^31 - 2^27"
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        _, k4 = patch_counts(call)
        return 5 * k4 + 16 * 3 * -(-int(call.weights.shape[0]) // 3)

    def _columns(self, call: LayerCall) -> tuple[int, int, int, int]:
        """Columns built (pointwise pairs inline; windows inside the input straight from it; the
        same through the staging copy; any other window), as ed_conv_column chooses."""
        _, kh, kw, cin = (int(v) for v in call.weights.shape)
        p = call.params
        batches, out_h, out_w = (int(v) for v in call.output.shape[:3])
        in_h, in_w = (int(v) for v in call.input.shape[1:3])
        stride_h, stride_w = (int(v) for v in p["stride"])
        dil_h, dil_w = (int(v) for v in p["dilation"])
        pad_top, pad_left = int(p["padding"][0]), int(p["padding"][2])
        positions = out_h * out_w
        run = kw * cin
        if (kh, kw) == (1, 1) and cin % 4 == 0 and all(int(v) == 0 for v in p["padding"]):
            return batches * (positions // 2), 0, 0, 0  # the lone last position: one direct column, twice
        if dil_w != 1 or run < 4:
            return 0, 0, 0, batches * positions
        x_in = sum(1 for ox in range(out_w) if 0 <= ox * stride_w - pad_left <= in_w - kw)
        y_in = sum(1 for oy in range(out_h) if 0 <= oy * stride_h - pad_top <= in_h - 1 - (kh - 1) * dil_h)
        inside, other = batches * y_in * x_in, batches * (positions - y_in * x_in)
        return (0, inside, 0, other) if run % 4 == 0 else (0, 0, inside, other)

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        _, k4 = patch_counts(call)
        pairs = batches * -(-positions // 2)
        whole, tail = divmod(int(call.weights.shape[0]), 3)
        groups = k4 // 4
        weighted_blocks = whole + (0.0, 13 / 28, 19 / 28)[tail]
        pointwise, direct, tight, staged = self._columns(call)
        return [pairs * groups * weighted_blocks, pairs * -(-int(call.weights.shape[0]) // 3), pointwise, direct,
                staged, 2 * pairs * groups, int(call.weights.shape[0]), 1, tight]

    def facts(self, call: LayerCall) -> dict:
        k, k4 = patch_counts(call)
        return {"patch": k, "patch_words": k4 // 4, "channel_blocks": -(-int(call.weights.shape[0]) // 3)}

    def context(self, call: LayerCall) -> KernelContext:
        sums, _ = self._sums(call)
        k, k4 = patch_counts(call)
        weights = CArray("weights_packed", "uint32_t", pack_weights(np.asarray(call.weight_rows)),
                         f"{weights_comment(call)}, packed: patch padded to {k4}, blocks of 3 channels "
                         "(ed_convolve.h)")
        padded = np.zeros(-(-len(sums) // 3) * 3, dtype=np.int32)
        padded[:len(sums)] = folded_bias(call, sums)
        bias = CArray("bias_folded", "int32_t", padded,
                      "bias + input_offset * sum of the channel's weights, zero padded to blocks of 3 (ed_convolve.h)")
        return weighted_context(call, [weights], bias=bias)


KERNEL = EdConvolveS8()
