"""``ed_convolve_1d_winograd_maxpool2_s8``: the Winograd convolution with the max pool after it
(window 2, stride 2) fused in; the convolution's output is never stored."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D, with_pool
from edge_deploy.kernels._fused_pool import fusable_max_pool, pool_context
from edge_deploy.kernels._winograd_spec import Winograd
from edge_deploy.kernels.base import KernelContext, LayerCall


class EdConvolve1dWinogradMaxpool2S8(Winograd):
    name = "ed_convolve_1d_winograd_maxpool2_s8"
    calibration = tuple(with_pool(CONV_1D))
    epilogue = "max_pool2d"
    base = "ed_convolve_winograd_s8"

    def applies(self, call: LayerCall) -> str | None:
        return super().applies(call) or fusable_max_pool(call)

    def context(self, call: LayerCall) -> KernelContext:
        ctx = super().context(call)
        pool_context(ctx, call)
        return ctx


KERNEL = EdConvolve1dWinogradMaxpool2S8()
