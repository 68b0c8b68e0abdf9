"""What the kernels of the requantizing element-wise ops of two inputs share (ADD, SUB, MUL:
``arm_elementwise_add_s8``, ``arm_elementwise_mul_s8``, ``ed_elementwise_add_s8``,
``ed_elementwise_mul_s8``): each takes two equally long vectors and is called once per block of
the broadcast (kernels/_broadcast), its cost is the elements plus the calls, it is calibrated on
the same layers, and its constants end with the output offset, the output requantization and the
activation clamp."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels._broadcast import BroadcastPlan, broadcast_plan
from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall

# Equal shapes (ResNet's residuals, a vector), a per-channel operand, a broadcast row.
CALIBRATION = tuple({"in": [s, s]} for s in ((1, 16, 16, 16), (1, 8, 8, 32), (1, 4, 4, 64), (1, 100))) + (
    {"in": [(1, 8, 8, 24), (1, 1, 1, 24)]}, {"in": [(1, 4, 4, 64), (1, 1, 4, 64)]})


class BinaryKernel(KernelSpec):
    """A kernel of two equally long int8 vectors, called per block of a broadcast."""

    cost_terms = ("elements", "calls")
    calibration = CALIBRATION
    # The output requantization's meaning, for the constant's comment.
    out_mult_comment = "to the output scale (Q31)"

    def plan(self, call: LayerCall) -> BroadcastPlan:
        """The blocks and loops of the broadcast."""
        a, b = (call.graph.tensor(n).shape for n in call.op.inputs)
        return broadcast_plan(a, b, call.output.shape)

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), self.plan(call).calls]

    def input_constants(self, call: LayerCall, ctx: KernelContext) -> None:
        """The constants of the inputs' arithmetic (before the output's)."""

    def context(self, call: LayerCall) -> KernelContext:
        p, y = call.params, call.output
        ctx = KernelContext()
        self.input_constants(call, ctx)
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        ctx.constant("OUT_MULT", p["out_mult"], self.out_mult_comment)
        ctx.constant("OUT_SHIFT", p["out_shift"])
        ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{call.op.attrs.get('activation', 'none')}', "
                     "in output units")
        ctx.constant("ACT_MAX", p["act_max"])
        plan = self.plan(call)
        ctx.fields.update(plan.fields(), operands=operand_sources(call, ctx))
        if plan.loops:
            ctx.comment.append(f"broadcast: {plan.calls} calls of {plan.block} elements")
        return ctx


def offset_constant(call: LayerCall, ctx: KernelContext, i: int) -> None:
    """INPUT<i>_OFFSET, -(zero point of input i, 1 or 2), with the input's scale."""
    t = call.graph.tensor(call.op.inputs[i - 1])
    ctx.constant(f"INPUT{i}_OFFSET", call.params[f"input{i}_offset"], f"-(input {i} zero point); scale {c_float(t.scale)}")
