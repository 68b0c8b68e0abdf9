"""``ed_elementwise_mul_s8``: edge-deploy's MUL, once per block of a broadcast (kernels/_broadcast):
four elements per word on the DSP path, one fast requantization per element
(firmware/kernels/ed_elementwise_mul_s8.c)."""

from __future__ import annotations

from edge_deploy.kernels._binary import BinaryKernel, offset_constant
from edge_deploy.kernels.base import KernelContext, LayerCall


class EdElementwiseMulS8(BinaryKernel):
    name = "ed_elementwise_mul_s8"
    op = "mul"
    header = "ed_elementwise.h"
    out_mult_comment = "input 1 scale * input 2 scale / output scale (Q31)"

    def input_constants(self, call: LayerCall, ctx: KernelContext) -> None:
        offset_constant(call, ctx, 1)
        offset_constant(call, ctx, 2)


KERNEL = EdElementwiseMulS8()
