"""``arm_elementwise_mul_s8``: CMSIS-NN's element-wise multiply of two equal-length vectors, called
once per block of a broadcast (kernels/_broadcast: a squeeze-excite gate (1, 1, 1, C) times
(1, H, W, C) is H * W calls of C elements)."""

from __future__ import annotations

from edge_deploy.kernels._binary import BinaryKernel, offset_constant
from edge_deploy.kernels.base import KernelContext, LayerCall


class ArmElementwiseMulS8(BinaryKernel):
    name = "arm_elementwise_mul_s8"
    op = "mul"
    upstream = "4.0.0"
    out_mult_comment = "input 1 scale * input 2 scale / output scale (Q31)"

    def input_constants(self, call: LayerCall, ctx: KernelContext) -> None:
        offset_constant(call, ctx, 1)
        offset_constant(call, ctx, 2)


KERNEL = ArmElementwiseMulS8()
