"""``ed_depthwise_conv_3x3_s8``: edge-deploy's 3 x 3 depthwise convolution with channel multiplier 1
(firmware/include/ed_depthwise_3x3.h): one channel at a time along an output row, four outputs per
pass (two in a row's last), SMLAD on int16 pairs of taps packed at build time, the input offset
folded into the bias, sums doubled at run time for a requantization by SMMLA(R). Rows of one pass
(3 or 6 outputs: MobileNet's small planes) gather each group's whole plane instead of a ring and
run every row of every channel in one call."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import depthwise
from edge_deploy.kernels._weighted import folded_bias, weight_sums, weighted_context, weights_comment
from edge_deploy.kernels.base import CArray, InPlace, KernelContext, LayerCall
from edge_deploy.kernels.ed_depthwise_conv_s8 import EdDepthwiseConvS8


def transposed(call: LayerCall) -> bool:
    """True when the kernel walks the layer along the input's columns (ed_dw3_transposed: taller
    than wide, a vertical stride of 1 or 2)."""
    out_h, out_w = int(call.output.shape[1]), int(call.output.shape[2])
    return out_h > out_w and int(call.params["stride"][0]) in (1, 2)


def pack_weights(w: np.ndarray, transpose: bool = False) -> np.ndarray:
    """1HWO 3 x 3 int8 weights as the kernel reads them: per output channel, per kernel row (per
    kernel column when ``transpose``), the int16 pairs (w0, w1) and (w1, w2) as uint32 words, low
    halfword first."""
    taps = np.asarray(w[0], dtype=np.int64).transpose(2, 1, 0) if transpose else \
        np.asarray(w[0], dtype=np.int64).transpose(2, 0, 1)  # (cout, ky, kx) in the kernel's orientation
    pairs = np.stack([taps[:, :, 0] & 0xFFFF | (taps[:, :, 1] & 0xFFFF) << 16,
                      taps[:, :, 1] & 0xFFFF | (taps[:, :, 2] & 0xFFFF) << 16], axis=2)
    return pairs.astype(np.uint32).reshape(-1)


def plane(out_h: int, out_w: int, stride_h: int, channels: int) -> bool:
    """True when each group of four channels gathers every input row it reads at once instead of
    a ring of three (ed_dw3_plane, in the kernel's orientation): rows of one pass of three or six
    outputs, a vertical stride of 1 or 2 (then never taller than wide: at most 13 gathered rows)
    and whole groups of four channels."""
    return out_w in (3, 6) and stride_h in (1, 2) and out_h >= 1 and channels % 4 == 0


def geometry(call: LayerCall) -> dict[str, int]:
    """The counts the kernel's time is linear in, and its ring's size."""
    p = call.params
    cout = int(call.weights.shape[3])
    batches, out_h, out_w = (int(v) for v in call.output.shape[:3])
    stride_h, stride_w = (int(v) for v in p["stride"])
    in_h, pad_top = int(call.input.shape[1]), int(p["padding"][0])
    if transposed(call):
        out_h, out_w, stride_h, stride_w = out_w, out_h, stride_w, stride_h
        in_h, pad_top = int(call.input.shape[2]), int(p["padding"][2])
    groups = -(-cout // 4)
    columns = stride_w * 4 * -(-out_w // 4) + 2
    gathered_rows = 3 * out_h if stride_h >= 3 else (out_h - 1) * stride_h + 3
    rows = batches * out_h
    whole = plane(out_h, out_w, stride_h, cout)
    slots = gathered_rows if whole else 3
    if whole:  # the padding's rows hold the zero point from the call's start
        gathered_rows = min(gathered_rows, in_h + pad_top) - min(pad_top, gathered_rows)
    # whole passes of four outputs, then the row's last 1 to 3 outputs in passes of two; a plane's
    # stride-1 row of six is one pass of six
    fours = out_w // 4
    short = (out_w % 4 + 1) // 2
    six = 1 if whole and out_w == 6 and stride_w == 1 else 0
    six2 = 1 if whole and out_w == 6 and stride_w == 2 else 0  # a plane's stride-2 rows of six: one pass
    three = 1 if whole and out_w == 3 else 0  # a plane's rows of three: a pass without its fourth output
    other = 1 - six - six2 - three
    return {"groups": 0 if whole else groups * batches, "plane_groups": groups * batches if whole else 0,
            "passes": cout * rows * fours * other, "three_passes": cout * rows * three,
            "six_s2_passes": cout * rows * six2,
            "short_passes": cout * rows * short * other, "six_passes": cout * rows * six,
            "outputs": cout * rows * out_w, "channel_rows": 0 if whole else cout * rows,
            "plane_rows": cout * rows if whole else 0,
            "gathered_pairs": groups * batches * gathered_rows * columns // 2,
            "gathered_rows": groups * batches * gathered_rows, "columns": columns, "scratch": 4 * (columns // 2) * slots * 4}


def _writes_behind_gathers(call: LayerCall) -> bool:
    """True when, with the output over the input, each output row (in the kernel's orientation)
    lands only on input positions whose rows have been gathered when it is written."""
    p = call.params
    _, in_h, in_w, _ = (int(v) for v in call.input.shape)
    _, out_h, out_w, channels = (int(v) for v in call.output.shape)
    if plane(*((out_w, out_h, int(p["stride"][1])) if transposed(call) else (out_h, out_w, int(p["stride"][0]))),
             channels):
        return True
    rows = np.arange(out_h * out_w).reshape(out_h, out_w)  # the input position each output position lands on
    if transposed(call):  # kernel rows are the columns
        landed = [rows[:, r] % in_w for r in range(out_w)]
        stride, pad = int(p["stride"][1]), int(p["padding"][2])
    else:
        landed = [rows[r] // in_w for r in range(out_h)]
        stride, pad = int(p["stride"][0]), int(p["padding"][0])
    return all(int(kernel_rows.max()) <= r * stride - pad + 2 for r, kernel_rows in enumerate(landed))


class EdDepthwiseConv3x3S8(EdDepthwiseConvS8):
    name = "ed_depthwise_conv_3x3_s8"
    family = "widened"  # the flash fallback may take it back
    header = "ed_depthwise_3x3.h"
    code_bytes = 7040  # 6,924 B measured (arm-none-eabi-size, -O2), rounded up
    # Per pass of four outputs of a channel (the 3 x 3 multiply-adds), per pass of two (a row's
    # last 1 to 3 outputs take one or two), per pass of six (a plane's stride-1 row of six) and of six at stride 2,
    # per pass of three (a plane's row of three), per output (its requantization and store), per channel and output row
    # (the set-up), per gathered pair of columns of four channels and per gathered row, per group
    # of four channels (its constants in three rotations), per channel and output row and per group
    # of a layer gathered whole (ed_dw3_plane: one rotation, one call per group), per call.
    cost_terms = ("passes", "short_passes", "six_passes", "six_s2_passes", "three_passes", "outputs", "channel_rows",
                  "gathered_pairs", "gathered_rows", "groups", "plane_rows", "plane_groups", "calls")
    calibration = (depthwise(24, 24, 16, 1, 3, 1, "same"), depthwise(24, 24, 16, 1, 3, 2, "same"),
                   depthwise(12, 12, 64, 1, 3, 1, "same"), depthwise(6, 6, 128, 1, 3, 2, "same"),
                   depthwise(25, 5, 64, 1, 3, 1, "same"), depthwise(3, 3, 256, 1, 3, 1, "same"),
                   depthwise(7, 5, 6, 1, 3, 1, "same"), depthwise(48, 48, 8, 1, 3, 1, "same"),
                   depthwise(12, 12, 64, 1, 3, 2, "same"), depthwise(6, 6, 128, 1, 3, 1, "same"),
                   depthwise(9, 9, 12, 1, 3, 2, "valid"), depthwise(13, 7, 20, 1, 3, 1, "valid"),
                   depthwise(4, 4, 24, 1, 3, 1, "same"), depthwise(8, 8, 16, 1, 3, 2, "same"),
                   depthwise(5, 5, 40, 1, 3, 1, "same"), depthwise(7, 7, 8, 1, 3, 2, "valid"),
                   depthwise(11, 11, 12, 1, 3, 2, "same"))

    def applies(self, call: LayerCall) -> str | None:
        p = call.params
        _, kh, kw, cout = (int(v) for v in call.weights.shape)
        if (kh, kw) != (3, 3):
            return f"window {kh}x{kw}, not 3x3"
        if cout != int(call.input.shape[3]):
            return "channel multiplier is not 1"
        if tuple(int(v) for v in p["dilation"]) != (1, 1):
            return "dilation is not 1"
        if int(p["stride"][1]) not in (1, 2) and not transposed(call):
            stride = tuple(int(v) for v in p["stride"])
            return f"stride {stride} (1 or 2 along the rows or, taller than wide, the columns)"
        return super().applies(call)

    def scratch_bytes(self, call: LayerCall) -> int:
        return geometry(call)["scratch"]

    def in_place(self, call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
        """The output may overwrite the input (batch 1; the planner also needs it no larger)
        where every input element an output row lands on has been gathered by the time that row
        is written: each group of four channels gathers the input rows (in the kernel's
        orientation) an output row reads before it writes the row, keeps each row while later
        rows read it, and writes only its own channels (ed_dw3_group; a plane gathers all its
        rows first, ed_dw3_plane_group)."""
        return InPlace(0) if int(call.output.shape[0]) == 1 and _writes_behind_gathers(call) else None

    def cost_features(self, call: LayerCall) -> list[float]:
        g = geometry(call)
        return [float(g[term]) for term in self.cost_terms[:-1]] + [1.0]

    def facts(self, call: LayerCall) -> dict:
        g = geometry(call)
        return {"channel_groups": g["groups"] + g["plane_groups"], "ring_columns": g["columns"]}

    def context(self, call: LayerCall) -> KernelContext:
        sums, _ = weight_sums(call)
        flip = transposed(call)
        weights = CArray("weights_packed", "uint32_t", pack_weights(np.asarray(call.weights.data), flip),
                         f"{weights_comment(call)}, packed as int16 pairs (w0, w1), (w1, w2) per channel and "
                         f"kernel {'column (walked transposed)' if flip else 'row'} (ed_depthwise_3x3.h)")
        bias = CArray("bias_folded", "int32_t", folded_bias(call, sums).astype(np.int32),
                      "bias + input_offset * sum of the channel's weights (ed_depthwise_3x3.h)")
        ctx = weighted_context(call, [weights], bias=bias)
        ctx.comment.append("one channel at a time, four outputs per pass, over a ring of gathered rows")
        return ctx


KERNEL = EdDepthwiseConv3x3S8()
