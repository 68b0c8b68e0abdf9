"""``ed_reduce_max_s8``: edge-deploy's REDUCE_MAX over any NHWC axes (CMSIS-NN v7.0.0 has none;
firmware/include/ed_reduce.h)."""

from __future__ import annotations

from edge_deploy.kernels._reduce import REDUCE_COST_TERMS, reduce_features, reduced_axes
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class EdReduceMaxS8(KernelSpec):
    name = "ed_reduce_max_s8"
    op = "reduce_max"
    header = "ed_reduce.h"
    cost_terms = REDUCE_COST_TERMS
    calibration = tuple({"in": [s], "attrs": {"axis": a, "keep_dims": True}} for s, a in (
        ((1, 8, 8, 32), (1, 2)), ((1, 4, 4, 64), (1, 2)), ((1, 1, 16, 16), (2,)), ((1, 6, 6, 8), (1, 2, 3)),
        ((1, 5, 7, 9), (3,)), ((1, 3, 10, 4), (2,)), ((1, 4, 6, 12), (1,))))

    def applies(self, call: LayerCall) -> str | None:
        if len(call.input.shape) > 4:
            return "it reduces a tensor of rank > 4 (ed_reduce_max_s8 takes up to NHWC; reshape it first)"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        return reduce_features(call)

    def context(self, call: LayerCall) -> KernelContext:
        axes = reduced_axes(call)
        ctx = KernelContext()
        ctx.constant("AXIS_MASK", sum(1 << a for a in axes), "reduced axes: 1 n, 2 h, 4 w, 8 c")
        ctx.comment.append(f"max over {', '.join('nhwc'[a] for a in axes)}")
        return ctx


KERNEL = EdReduceMaxS8()
