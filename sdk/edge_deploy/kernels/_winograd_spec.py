"""What the two Winograd kernels share: when they apply, the transformed filter, scratch and
the cost terms (see :mod:`edge_deploy.kernels._winograd`)."""

from __future__ import annotations

from edge_deploy.kernels._weighted import weighted_context, weights_comment
from edge_deploy.kernels._winograd import geometry, transform_filter, unsupported
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class Winograd(KernelSpec):
    """``ed_convolve_winograd_s8`` and its pooled variant."""

    op = "conv2d"
    header = "ed_winograd.h"
    family = "winograd"
    # The variants' code (SIMD build, -O2; arm-none-eabi-nm -S of IC's build with the plain and
    # the fused-ADD entries: 5,934 B), rounded up: counted once.
    code_bytes = 6 * 1024
    code_group = "winograd"
    # Per output row: per pair of tiles the six products of every block of four channels over
    # every virtual channel pair, each block's outputs; per tile and input row entering a strip's
    # ring (read_rows) its transform (a call) and each group of four virtual channels in it, or,
    # in the padding, its zeroed words; per block of a last, partial pair of tiles each of its
    # output positions (the general output path).
    cost_terms = ("pair_products", "block_tiles", "input_groups", "input_rows", "padding_words", "partial_outputs",
                  "calls")

    def geometry(self, call: LayerCall):
        w = call.weights.shape
        return geometry(w[2], w[3], w[0], int(call.params["stride"][1]), rows=w[1])

    @staticmethod
    def read_rows(call: LayerCall) -> tuple[int, int]:
        """(input rows transformed, padding rows zeroed) per strip of a pair of tiles: the kernel
        walks each strip down the output rows and keeps the rows still read in its ring, so each
        row the layer reads enters once per strip (and batch)."""
        batches, out_h = (int(v) for v in call.output.shape[:2])  # the convolution's own output
        rows, in_h = int(call.weights.shape[1]), int(call.input.shape[1])
        stride, top = int(call.params["stride"][0]), int(call.params["padding"][0])
        entered: set[int] = set()
        for oy in range(out_h):
            entered.update(range(oy * stride - top, oy * stride - top + rows))
        inside = sum(1 for iy in entered if 0 <= iy < in_h)
        return batches * inside, batches * (len(entered) - inside)

    def applies(self, call: LayerCall) -> str | None:
        return unsupported(call.input.shape, call.weights.shape, call.output.shape, call.params["stride"],
                           call.params["dilation"])

    def scratch_bytes(self, call: LayerCall) -> int:
        return self.geometry(call).scratch_bytes

    def facts(self, call: LayerCall) -> dict:
        geo = self.geometry(call)
        return {"filter_rows": geo.rows, "segments": geo.segments, "virtual_channel_pairs": geo.pairs,
                "weights_bytes": geo.weight_bytes}

    def cost_features(self, call: LayerCall) -> list[float]:
        geo = self.geometry(call)
        out_rows, out_w = int(call.output.shape[0]) * int(call.output.shape[1]), int(call.output.shape[2])
        tile_pairs = -(-out_w // 8)
        inside, padding = self.read_rows(call)
        return [out_rows * tile_pairs * geo.blocks * 6 * geo.pairs, out_rows * tile_pairs * geo.blocks,
                inside * tile_pairs * 2 * geo.segments * (geo.group // 4), inside * tile_pairs * 2,
                padding * tile_pairs * 2 * 6 * geo.row_pairs, out_rows * geo.blocks * (out_w % 8), 1]

    def context(self, call: LayerCall) -> KernelContext:
        geo = self.geometry(call)
        words = transform_filter(call.weights.data, geo.stride)
        comment = (f"{weights_comment(call)}, Winograd F(4,3)-transformed (24 G g, int16 pairs; ed_winograd.h): "
                   f"{geo.blocks} blocks of 4 channels x 6 x {geo.pairs} virtual channel pairs x 4")
        ctx = weighted_context(call, [CArray("weights_winograd", "uint32_t", words, comment)])
        ctx.comment.append(f"Winograd F(4,3) along the rows: {geo.rows} filter row(s) of {geo.segments} segment(s) "
                           f"of 3 taps, {geo.pairs} virtual channel pairs")
        return ctx
