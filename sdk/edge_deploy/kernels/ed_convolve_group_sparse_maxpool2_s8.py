"""``ed_convolve_group_sparse_maxpool2_s8``: the group-sparse convolution of a 1-D layer with the
max pool after it (window 2, stride 2) fused in; the convolution's output is never stored."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D, pruned, with_pool
from edge_deploy.kernels._fused_pool import fusable_max_pool, pool_context
from edge_deploy.kernels._sparse_spec import SparseConv
from edge_deploy.kernels.base import KernelContext, LayerCall


class EdConvolveGroupSparseMaxpool2S8(SparseConv):
    name = "ed_convolve_group_sparse_maxpool2_s8"
    calibration = tuple(pruned(with_pool(CONV_1D), 0.75, 0.4))
    sparse_format = "group4"
    epilogue = "max_pool2d"
    base = "ed_convolve_group_sparse_s8"

    def applies(self, call: LayerCall) -> str | None:
        if call.output.shape[1] != 1:
            return "not a 1-D convolution (height is not 1)"
        return super().applies(call) or fusable_max_pool(call)

    def context(self, call: LayerCall) -> KernelContext:
        ctx = super().context(call)
        pool_context(ctx, call)
        return ctx


KERNEL = EdConvolveGroupSparseMaxpool2S8()
