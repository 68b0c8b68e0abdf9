"""``ed_prelu_s8``: edge-deploy's PRELU (CMSIS-NN has none), once per block of the alpha
broadcast (kernels/_broadcast)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._broadcast import broadcast_plan
from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class EdPreluS8(KernelSpec):
    name = "ed_prelu_s8"
    op = "prelu"
    header = "ed_elementwise.h"
    cost_terms = ("elements", "calls")
    calibration = ({"in": [(1, 8, 8, 16), (1, 1, 16)]}, {"in": [(1, 4, 4, 32), (1, 4, 4, 32)]},
                   {"in": [(1, 100), (1, 100)]}, {"in": [(1, 6, 6, 8), (1, 1, 8)]})

    def _plan(self, call: LayerCall):
        a, b = (call.graph.tensor(n).shape for n in call.op.inputs)
        return broadcast_plan(a, b, call.output.shape)

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), self._plan(call).calls]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.constant("INPUT_OFFSET", p["input_offset"], "-(input zero point)")
        ctx.constant("ALPHA_OFFSET", p["alpha_offset"], "-(alpha zero point)")
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], "output zero point")
        ctx.constant("POS_MULT", p["pos_mult"], "input scale / output scale (Q31), for x >= 0")
        ctx.constant("POS_SHIFT", p["pos_shift"])
        ctx.constant("NEG_MULT", p["neg_mult"], "input scale * alpha scale / output scale (Q31), for x < 0")
        ctx.constant("NEG_SHIFT", p["neg_shift"])
        ctx.fields.update(self._plan(call).fields(), operands=operand_sources(call, ctx))
        return ctx


KERNEL = EdPreluS8()
