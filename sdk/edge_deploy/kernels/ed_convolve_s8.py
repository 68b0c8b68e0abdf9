"""``ed_convolve_s8``: edge-deploy's convolution as a register-blocked GEMM (firmware/include/ed_convolve.h):
four output positions x two output channels per pass over widened patch columns, the weights
packed at build time (patch padded to whole words, channels in blocks of two), the input offset
folded into the bias. Any window, stride, padding and dilation."""

from __future__ import annotations

import dataclasses

import numpy as np

from edge_deploy.ctext import dims
from edge_deploy.kernels._layers import CONV_1D, CONV_2D, conv2d
from edge_deploy.kernels._weighted import (channel_requant, conv_positions, folded_bias, raw_accumulators_fit,
                                           weight_sums, weighted_context, weights_comment)
from edge_deploy.kernels.base import CArray, InPlace, KernelContext, KernelSpec, LayerCall
from edge_deploy.numerics.fixedpoint import ROUNDING_MODES
from edge_deploy.ops._shared import requantize


ACCUMULATOR_LIMIT = (1 << 31) - (1 << 27)
"""|accumulator| bound of the kernel: its requantization adds a rounding word of up to 2^26 to a
value as large as the accumulator, in int32 (ed_convolve_s8.c)."""


FAST_SHIFTS = range(-18, 0)
"""Shifts of the kernel's fast requantization, which also needs a multiplier in [2^30, 2^31)
(ed_conv_q_prepare in ed_convolve_s8.c). One channel off it sends the whole layer to the general
C loop."""

CONSTANT_CHANNEL_REQUANT = (1 << 30, -1)
"""The requantization of a channel with all-zero weights whose own is off the fast path: with the
bias 4 d the output is d plus the output offset exactly, in both roundings (the multiply gives 2 d,
the shift by one halves it with nothing to round)."""


def on_fast_path(mult: int, shift: int) -> bool:
    """True when a channel's (multiplier, shift) takes the kernel's fast requantization."""
    return (1 << 30) <= mult < (1 << 31) and shift in FAST_SHIFTS


def constant_channels_requantized(call: LayerCall, bias: np.ndarray) -> tuple[LayerCall, np.ndarray]:
    """``(call, bias)`` with each channel whose weights are all zero (its output a constant, the
    bias requantized) and whose requantization is off the fast path given
    :data:`CONSTANT_CHANNEL_REQUANT` and the bias that gives the same output in both roundings
    (checked with TFLite's arithmetic). Batch norm folded over a dead channel leaves such channels
    (MLPerf Tiny's VWW, with tiny multipliers on the op's own search,
    :func:`edge_deploy.ops._shared.constant_channels_on_fast_path`)."""
    p = call.params
    mults, shifts = channel_requant(call)
    bias = np.array(bias, dtype=np.int64)
    clamp = (int(p["output_offset"]), int(p["act_min"]), int(p["act_max"]))
    dead = ~np.any(np.asarray(call.weight_rows) != 0, axis=1)
    changed = False

    def outputs(acc: int, mult: int, shift: int) -> set[int]:
        return {int(requantize(acc, mult, shift, *clamp, r)) for r in ROUNDING_MODES}

    for c in np.flatnonzero(dead):
        if on_fast_path(int(mults[c]), int(shifts[c])):
            continue
        want = outputs(int(bias[c]), int(mults[c]), int(shifts[c]))
        if len(want) == 1:  # the roundings agree: one constant to keep
            new_bias = 4 * (min(want) - clamp[0])
            if outputs(new_bias, *CONSTANT_CHANNEL_REQUANT) == want:
                bias[c], (mults[c], shifts[c]) = new_bias, CONSTANT_CHANNEL_REQUANT
                changed = True
    if not changed:
        return call, bias
    return dataclasses.replace(call, params={**p, "out_mult": mults, "out_shift": shifts}), bias


def general_channels(call: LayerCall, bias: np.ndarray) -> int:
    """How many output channels the kernel's general loop runs (its products in the same group
    loop, each output requantized on its own in C): all of them where a channel is off the fast
    path after :func:`constant_channels_requantized` (ed_convolve_s8.c sends every block there),
    else only an odd last channel."""
    call, _ = constant_channels_requantized(call, bias)
    cout = len(bias)
    if (all(on_fast_path(int(m), int(s)) for m, s in zip(*channel_requant(call)))
            and not needs_chunks(weight_sums(call)[1])):
        return cout % 2
    return cout


PAIR_PRODUCTS_LIMIT = 1 << 23
"""The second channel of a pair has its products recovered from 24 bits of the difference of the
packed sum and the first channel's (ed_convolve.h): where 128 x the sum of |w| of a channel may
reach this, the layer is flagged chunked and recovers them every CHUNK_ELEMENTS patch elements."""

CHUNK_ELEMENTS = 512  # ED_CONV_CHUNK_GROUPS groups of four: 512 * 127 * 128 < 2^23


def pair_rows(rows: np.ndarray) -> np.ndarray:
    """(cout, k) int8 weight rows as the kernel's channel pairs: k padded with zeros to a multiple
    of 4, the channels with a zero row to a multiple of 2; per pair per patch element the int64
    value first + 256 second, (pairs, k4)."""
    cout, k = rows.shape
    k4, c2 = -(-k // 4) * 4, -(-cout // 2) * 2
    padded = np.zeros((c2, k4), dtype=np.int64)
    padded[:cout, :k] = rows
    return padded[0::2] + 256 * padded[1::2]


def pair_refusal(rows: np.ndarray) -> str | None:
    """Why the kernel's channel pairs cannot carry these weight rows, or None."""
    pairs = pair_rows(rows)
    if pairs.size and (pairs.min() < -(1 << 15) or pairs.max() >= 1 << 15):
        return ("a weight of -128 follows a negative weight of the channel before it (the pair packed as "
                "first + 256 second leaves int16); requantize the weights to -127..127")
    return None


def needs_chunks(abs_sums: np.ndarray) -> bool:
    """True when a channel's products may reach 2^23 (128 x its sum of |w|, ``abs_sums`` from
    :func:`weight_sums`), so the layer recovers its second channels every CHUNK_ELEMENTS patch
    elements (ed_convolve.h)."""
    return 128 * int(np.asarray(abs_sums).max(initial=0)) >= PAIR_PRODUCTS_LIMIT


def pack_weights(rows: np.ndarray) -> np.ndarray:
    """(cout, k) int8 weight rows as the kernel reads them (ed_convolve.h): per block of two
    channels, per group of four patch elements, the words (h0, h2) and (h1, h3) of the pair's
    int16 values h = first + 256 second, the low halfword first."""
    pairs = pair_rows(rows)
    groups = pairs.reshape(pairs.shape[0], -1, 2, 2).transpose(0, 1, 3, 2)  # (block, group, word, halfword)
    halves = np.ascontiguousarray(groups).astype(np.int16)
    return halves.view("<u4").reshape(-1).astype(np.uint32)


def filter_shape(call: LayerCall) -> tuple[int, int, int, int]:
    """(cout, kh, kw, cin) of the convolution the kernel runs: the conv's own OHWI shape, or for a
    depthwise layer over one input channel (a convolution with cout = its channel multiplier:
    micro_speech's and person_detect's first layers) (multiplier, kh, kw, 1)."""
    kh, kw = (int(v) for v in call.weights.shape[1:3])
    return int(call.output.shape[3]), kh, kw, int(call.input.shape[3])


def patch_counts(call: LayerCall) -> tuple[int, int]:
    """(patch length k, k rounded up to whole words)."""
    k = int(call.weight_rows.shape[1])
    return k, -(-k // 4) * 4


class EdConvolveS8(KernelSpec):
    name = "ed_convolve_s8"
    op = "conv2d"
    # ... and depthwise layers over one input channel (applies() checks), as the convolution they are
    ops = ("conv2d", "depthwise_conv2d")
    header = "ed_convolve.h"
    code_bytes = 5376  # 5,232 B of Thumb-2 measured (arm-none-eabi-nm, the ed_conv* symbols, -O2), rounded up
    # Per quad of positions and block of two channels: the groups of four patch elements (the
    # SMLAD loop) and the block's requantizations; per quad of 1x1 patches (widened inline) or per
    # column of a window inside the input (dilation_w 1, rows of at least 4 bytes) built straight
    # from the input (rows of whole words) or through the int8 staging copy
    # (ed_conv_column_tight), per column of any other window (in the padding, dilated columns;
    # ed_conv_column_any), the columns' groups (widening); per output
    # channel its prepared requantization; per output of the general loop (general_channels) its
    # requantization in C. Windows of three rows of 9 bytes inside the input (3 x 3 RGB) are read
    # straight into their widened groups: four of one output row in one call (rows27_quads), any
    # other one at a time (rows27_columns); their groups are not in column_groups. So are windows of
    # rows of 1 to 3 bytes inside the input (a 3 x 3 window over one channel), gathered byte by
    # byte: per call of four (short_quads) or of one (short_columns), per row gathered (short_rows).
    cost_terms = ("block_groups", "blocks", "pointwise_quads", "direct_columns", "staged_columns", "column_groups",
                  "channels", "calls", "tight_columns", "general_outputs", "rows27_quads", "rows27_columns",
                  "short_quads", "short_columns", "short_rows")
    calibration = tuple(CONV_1D + CONV_2D) + (
        conv2d(48, 48, 8, 16, 1, 1, "valid"), conv2d(24, 24, 32, 32, 1, 1, "valid"), conv2d(12, 12, 64, 64, 1, 1, "valid"),
        conv2d(25, 5, 64, 64, 1, 1, "valid"), conv2d(32, 32, 3, 16, 3, 1, "same"), conv2d(16, 16, 16, 16, 3, 1, "same"),
        conv2d(8, 8, 32, 64, 3, 2, "same"), conv2d(49, 10, 1, 16, 4, 2, "same"), conv2d(40, 40, 3, 8, 3, 2, "same"),
        conv2d(12, 12, 64, 64, 1, 1, "valid", slow_channel=True), conv2d(8, 8, 16, 16, 3, 1, "same", slow_channel=True),
        conv2d(32, 32, 1, 8, 3, 2, "same"), conv2d(18, 18, 1, 8, 3, 1, "same"), conv2d(16, 16, 1, 8, 2, 1, "valid"))
    # (A depthwise layer over one input channel runs the same code as its convolution: its cost
    # comes from these layers. Calibrating on such layers too pulled the conv terms' fit from 1.6 %
    # to 4.5 % error; priced from the conv fit, micro_speech's and person_detect's first layers come
    # out within 14 %, against alternatives 1.8-3.2x slower.)

    def serves(self, op_kind: str) -> bool:
        return op_kind in self.ops

    def applies(self, call: LayerCall) -> str | None:
        if call.kind == "depthwise_conv2d" and int(call.input.shape[3]) != 1:
            return (f"a depthwise layer over {int(call.input.shape[3])} input channels (only one input channel "
                    "makes it a convolution)")
        if int(np.abs(call.weights.quant.zero_point).max()) != 0:
            return "weight zero point is not 0"
        if not -127 <= int(call.params["input_offset"]) <= 128:
            return "the input zero point is not an int8 value (the padding reads it)"
        refusal = pair_refusal(np.asarray(call.weight_rows))
        if refusal:
            return refusal
        sums, abs_sums = weight_sums(call)
        if not raw_accumulators_fit(folded_bias(call, sums), abs_sums, limit=ACCUMULATOR_LIMIT):
            return "an accumulator (the bias with the input offset folded in) could reach 2^31 - 2^27"
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        _, k4 = patch_counts(call)
        return 9 * k4 + 32 * -(-filter_shape(call)[0] // 2)

    def _columns(self, call: LayerCall) -> dict[str, int]:
        """Columns built, as ed_convolve_s8 and ed_conv_column choose: ``pointwise`` quads of 1x1
        patches (inline); windows inside the input straight from it (``direct``: rows of whole
        words), through the staging copy (``tight``), as quads or single columns of three rows of
        9 bytes (``rows27_quads``, ``rows27_columns``) or of rows of 1 to 3 bytes (``short_quads``,
        ``short_columns``); ``other``: any other window (``ed_conv_column_any``)."""
        _, kh, kw, cin = filter_shape(call)
        p = call.params
        batches, out_h, out_w = (int(v) for v in call.output.shape[:3])
        in_h, in_w = (int(v) for v in call.input.shape[1:3])
        stride_h, stride_w = (int(v) for v in p["stride"])
        dil_h, dil_w = (int(v) for v in p["dilation"])
        pad_top, pad_left = int(p["padding"][0]), int(p["padding"][2])
        positions = out_h * out_w
        run = kw * cin
        counts = dict.fromkeys(("pointwise", "direct", "tight", "other", "rows27_quads", "rows27_columns",
                                "short_quads", "short_columns"), 0)
        if (kh, kw) == (1, 1) and cin % 4 == 0 and all(int(v) == 0 for v in p["padding"]):
            return {**counts, "pointwise": batches * -(-positions // 4)}
        if dil_w != 1:
            return {**counts, "other": batches * positions}
        x_in = [0 <= ox * stride_w - pad_left <= in_w - kw for ox in range(out_w)]
        y_in = [0 <= oy * stride_h - pad_top <= in_h - 1 - (kh - 1) * dil_h for oy in range(out_h)]
        inside = batches * sum(y_in) * sum(x_in)
        counts["other"] = batches * positions - inside
        if run % 4 == 0:
            return {**counts, "direct": inside}
        kind = "short" if run < 4 else "rows27" if (run, kh) == (9, 3) else None
        if kind is None:
            return {**counts, "tight": inside}
        quads = 0  # whole quads of one output row inside the input: one call builds their four columns
        for pos in range(0, positions - 3, 4):
            oy, ox = divmod(pos, out_w)
            quads += ox + 4 <= out_w and y_in[oy] and x_in[ox] and x_in[ox + 3]
        return {**counts, f"{kind}_quads": batches * quads, f"{kind}_columns": inside - 4 * batches * quads}

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        _, k4 = patch_counts(call)
        quads = batches * -(-positions // 4)
        cout = filter_shape(call)[0]
        blocks = -(-cout // 2)
        groups = k4 // 4
        kh = filter_shape(call)[1]
        c = self._columns(call)
        sums, _ = weight_sums(call)
        general = batches * positions * general_channels(call, folded_bias(call, sums))
        # The columns widened one group at a time after they are gathered (not the ones read
        # straight into their groups: three rows of 9 bytes, rows of 1 to 3 bytes).
        widened = 4 * quads - 4 * (c["rows27_quads"] + c["short_quads"]) - c["rows27_columns"] - c["short_columns"]
        return [quads * groups * blocks, quads * blocks, c["pointwise"], c["direct"], c["other"], widened * groups,
                cout, 1, c["tight"], general, c["rows27_quads"], c["rows27_columns"],
                c["short_quads"], c["short_columns"], (4 * c["short_quads"] + c["short_columns"]) * kh]

    def in_place(self, call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
        """A 1x1 convolution at stride 1 without padding streams over its input: each four
        positions' pixels are widened into the columns before their outputs are written, and
        output position p lies no further into the arena than input position p when the input
        sits at the output's end (a larger output starts the difference before the input)."""
        p = call.params
        if (call.kind == "conv2d" and filter_shape(call)[1:3] == (1, 1) and tuple(p["stride"]) == (1, 1)
                and not any(int(v) for v in p["padding"])):
            return InPlace(0, grows=True)
        return None

    def facts(self, call: LayerCall) -> dict:
        k, k4 = patch_counts(call)
        return {"patch": k, "patch_words": k4 // 4, "channel_blocks": -(-filter_shape(call)[0] // 2)}

    def context(self, call: LayerCall) -> KernelContext:
        sums, abs_sums = weight_sums(call)
        k, k4 = patch_counts(call)
        weights = CArray("weights_packed", "uint32_t", pack_weights(np.asarray(call.weight_rows)),
                         f"{weights_comment(call)}, packed: patch padded to {k4}, pairs of channels as int16 "
                         "first + 256 second (ed_convolve.h)")
        padded = np.zeros(-(-len(sums) // 2) * 2 + 1, dtype=np.int32)
        call, padded[:len(sums)] = constant_channels_requantized(call, folded_bias(call, sums))
        padded[-1] = needs_chunks(abs_sums)
        bias = CArray("bias_folded", "int32_t", padded,
                      "bias + input_offset * sum of the channel's weights (4 x the output less its offset on a "
                      "constant channel), zero padded to blocks of 2, then 1 when the pairs are recovered in "
                      f"chunks of {CHUNK_ELEMENTS} patch elements (ed_convolve.h)")
        ctx = weighted_context(call, [weights], bias=bias)
        ctx.fields["filter_dims"] = dims(filter_shape(call))  # a depthwise layer's as its convolution's
        return ctx


KERNEL = EdConvolveS8()
