"""``arm_pad_s8``: CMSIS-NN's constant padding of an NHWC tensor (rank <= 4, batch not padded)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class ArmPadS8(KernelSpec):
    name = "arm_pad_s8"
    op = "pad"
    upstream = "7.0.0"  # not in v6.0.0
    cost_terms = ("outputs", "calls")
    calibration = ({"in": [(1, 1, 64, 8)], "attrs": {"paddings": [(0, 0), (0, 0), (2, 3), (0, 0)]}},
                   {"in": [(1, 8, 8, 3)], "attrs": {"paddings": [(0, 0), (1, 1), (1, 1), (0, 0)]}},
                   {"in": [(1, 16, 16, 16)], "attrs": {"paddings": [(0, 0), (0, 1), (0, 1), (0, 0)]}})

    def applies(self, call: LayerCall) -> str | None:
        pads = call.params["paddings"]
        if len(call.input.shape) > 4 or tuple(pads[0]) != (0, 0):
            return "it pads the batch dimension or a tensor of rank > 4 (pad only the H, W and C dimensions)"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        pads = [tuple(int(v) for v in p) for p in call.params["paddings"]]
        pads = [(0, 0)] * (4 - len(pads)) + pads
        ctx = KernelContext()
        ctx.constant("PAD_VALUE", call.params["pad_value"], "the value padded in (PAD: the output zero point)")
        ctx.fields.update(pre=dict(zip("nhwc", [p[0] for p in pads])), post=dict(zip("nhwc", [p[1] for p in pads])))
        return ctx


KERNEL = ArmPadS8()
