"""``arm_elementwise_add_s8``: CMSIS-NN's element-wise add of two equal-length vectors, called once
per block of a broadcast (kernels/_broadcast). SUB runs on it too, with input 2's multiplier
negated (its kernel parameters say so), as TFLite's SUB does."""

from __future__ import annotations

from edge_deploy.kernels._binary import BinaryKernel, offset_constant
from edge_deploy.kernels.base import KernelContext, LayerCall


class ArmElementwiseAddS8(BinaryKernel):
    name = "arm_elementwise_add_s8"
    op = "add"
    upstream = "4.0.0"
    out_mult_comment = "sum to output scale (Q31)"

    def serves(self, op_kind: str) -> bool:
        return op_kind in ("add", "sub")

    def input_constants(self, call: LayerCall, ctx: KernelContext) -> None:
        p = call.params
        for i in (1, 2):
            offset_constant(call, ctx, i)
            ctx.constant(f"INPUT{i}_MULT", p[f"input{i}_mult"], f"input {i} rescale to the common scale (Q31)")
            ctx.constant(f"INPUT{i}_SHIFT", p[f"input{i}_shift"])
        ctx.constant("LEFT_SHIFT", p["left_shift"], "headroom shift before rescaling (TFLite: 20)")


KERNEL = ArmElementwiseAddS8()
