"""``arm_elementwise_mul_s8``: CMSIS-NN's element-wise multiply of two equal-length vectors, called
once per block of a broadcast (kernels/_broadcast: a squeeze-excite gate (1, 1, 1, C) times
(1, H, W, C) is H * W calls of C elements)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels._broadcast import BroadcastPlan, broadcast_plan
from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class ArmElementwiseMulS8(KernelSpec):
    name = "arm_elementwise_mul_s8"
    op = "mul"
    upstream = "4.0.0"
    cost_terms = ("elements", "calls")
    calibration = tuple({"in": [s, s]} for s in ((1, 16, 16, 16), (1, 8, 8, 32), (1, 4, 4, 64), (1, 100))) + (
        {"in": [(1, 8, 8, 24), (1, 1, 1, 24)]}, {"in": [(1, 4, 4, 64), (1, 1, 4, 64)]})

    def _plan(self, call: LayerCall) -> BroadcastPlan:
        a, b = (call.graph.tensor(n).shape for n in call.op.inputs)
        return broadcast_plan(a, b, call.output.shape)

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), self._plan(call).calls]

    def context(self, call: LayerCall) -> KernelContext:
        p, x, y = call.params, call.input, call.output
        b = call.graph.tensor(call.op.inputs[1])
        ctx = KernelContext()
        ctx.constant("INPUT1_OFFSET", p["input1_offset"], f"-(input 1 zero point); scale {c_float(x.scale)}")
        ctx.constant("INPUT2_OFFSET", p["input2_offset"], f"-(input 2 zero point); scale {c_float(b.scale)}")
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        ctx.constant("OUT_MULT", p["out_mult"], "input 1 scale * input 2 scale / output scale (Q31)")
        ctx.constant("OUT_SHIFT", p["out_shift"])
        ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{call.op.attrs.get('activation', 'none')}', "
                     "in output units")
        ctx.constant("ACT_MAX", p["act_max"])
        plan = self._plan(call)
        ctx.fields.update(plan.fields(), operands=operand_sources(call, ctx))
        if plan.loops:
            ctx.comment.append(f"broadcast: {plan.calls} calls of {plan.block} elements")
        return ctx


KERNEL = ArmElementwiseMulS8()
