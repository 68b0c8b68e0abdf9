"""``arm_softmax_s8``: CMSIS-NN's softmax over the last axis."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class ArmSoftmaxS8(KernelSpec):
    name = "arm_softmax_s8"
    op = "softmax"
    upstream = "4.0.0"
    cost_terms = ("elements", "rows", "calls")
    calibration = tuple({"in": [s], "attrs": {"beta": 1.0}} for s in ((1, 10), (1, 12), (4, 10), (1, 100)))

    def cost_features(self, call: LayerCall) -> list[float]:
        x = call.input.shape
        return [int(np.prod(x)), int(np.prod(x)) // int(x[-1]), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p, x = call.params, call.input
        ctx = KernelContext()
        ctx.constant("INPUT_MULT", p["input_mult"], f"beta * input scale ({c_float(x.scale)}) in Q5.26 (Q31)")
        ctx.constant("INPUT_LEFT_SHIFT", p["input_left_shift"])
        ctx.constant("DIFF_MIN", p["diff_min"], "smallest difference to the row maximum that still counts")
        ctx.fields.update(row_size=int(x.shape[-1]), rows=int(np.prod(x.shape)) // int(x.shape[-1]))
        return ctx


KERNEL = ArmSoftmaxS8()
