"""What the two Winograd kernels share: when they apply, the transformed filter, scratch and
the cost terms (see :mod:`edge_deploy.kernels._winograd`)."""

from __future__ import annotations

from edge_deploy.kernels._weighted import weighted_context, weights_comment
from edge_deploy.kernels._winograd import geometry, transform_filter, unsupported
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class Winograd(KernelSpec):
    """``ed_convolve_1d_winograd_s8`` and its pooled variant."""

    op = "conv2d"
    header = "ed_winograd.h"
    family = "winograd"
    # Both variants' code (SIMD build, -O2, measured with arm-none-eabi-nm): counted once.
    code_bytes = 7 * 1024
    code_group = "winograd"
    cost_terms = ("pair_products", "block_tiles", "input_groups", "calls")

    def geometry(self, call: LayerCall):
        w = call.weights.shape
        return geometry(w[2], w[3], w[0], int(call.params["stride"][1]))

    def applies(self, call: LayerCall) -> str | None:
        return unsupported(call.input.shape, call.weights.shape, call.output.shape, call.params["stride"],
                           call.params["dilation"])

    def scratch_bytes(self, call: LayerCall) -> int:
        return self.geometry(call).scratch_bytes

    def facts(self, call: LayerCall) -> dict:
        geo = self.geometry(call)
        return {"segments": geo.segments, "virtual_channel_pairs": geo.pairs, "weights_bytes": geo.weight_bytes}

    def cost_features(self, call: LayerCall) -> list[float]:
        geo = self.geometry(call)
        tile_pairs = -(-int(call.output.shape[2]) // 8)
        return [tile_pairs * geo.blocks * 6 * geo.pairs, tile_pairs * geo.blocks,
                tile_pairs * 2 * geo.segments * (geo.group // 4), 1]

    def context(self, call: LayerCall) -> KernelContext:
        geo = self.geometry(call)
        words = transform_filter(call.weights.data, geo.stride)
        comment = (f"{weights_comment(call)}, Winograd F(4,3)-transformed (24 G g, int16 pairs; ed_winograd.h): "
                   f"{geo.blocks} blocks of 4 channels x 6 x {geo.pairs} virtual channel pairs x 4")
        ctx = weighted_context(call, [CArray("weights_winograd", "uint32_t", words, comment)])
        ctx.comment.append(f"Winograd F(4,3): {geo.segments} segment(s) of 3 taps, {geo.pairs} virtual channel pairs")
        return ctx
