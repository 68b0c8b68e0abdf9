"""What the two pooling kernels share: the window fields and the clamp constants."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._weighted import window_fields
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class Pool(KernelSpec):
    """A CMSIS-NN pooling kernel (one call shape for max and average)."""

    cost_terms = ("window_elements", "outputs", "calls")

    @property
    def template(self) -> str:
        return "kernels/pool_s8.c.j2"

    def cost_features(self, call: LayerCall) -> list[float]:
        outputs = int(np.prod(call.output.shape))
        return [outputs * int(np.prod(call.params["filter_hw"])), outputs, 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.fields.update(window_fields(p), filter_h=int(p["filter_hw"][0]), filter_w=int(p["filter_hw"][1]))
        ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{call.op.attrs.get('activation', 'none')}', "
                     "in output units")
        ctx.constant("ACT_MAX", p["act_max"])
        return ctx
