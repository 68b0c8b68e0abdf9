"""``arm_transpose_s8``: CMSIS-NN's transpose (v7.0.0 API) of a tensor of up to four axes,
called with four (a smaller rank padded in front, its permutation shifted)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class ArmTransposeS8(KernelSpec):
    name = "arm_transpose_s8"
    op = "transpose"
    upstream = "7.0.0"
    cost_terms = ("elements", "rows", "calls")
    calibration = ({"in": [(1, 3, 16, 16)], "attrs": {"perm": (0, 2, 3, 1)}},
                   {"in": [(1, 8, 40)], "attrs": {"perm": (0, 2, 1)}},
                   {"in": [(1, 6, 5, 8)], "attrs": {"perm": (0, 2, 1, 3)}},
                   {"in": [(4, 32)], "attrs": {"perm": (1, 0)}},
                   {"in": [(1, 16, 8, 4)], "attrs": {"perm": (0, 3, 1, 2)}})

    def applies(self, call: LayerCall) -> str | None:
        if len(call.input.shape) > 4:
            return f"it transposes {len(call.input.shape)} axes (arm_transpose_s8 takes up to 4)"
        return None

    def _perm(self, call: LayerCall) -> list[int]:
        pad = 4 - len(call.input.shape)
        return list(range(pad)) + [int(p) + pad for p in call.params["perm"]]

    def cost_features(self, call: LayerCall) -> list[float]:
        shape = call.output.shape
        return [int(np.prod(shape)), int(np.prod(shape[:-1])) if shape else 1, 1]

    def context(self, call: LayerCall) -> KernelContext:
        ctx = KernelContext()
        perm = self._perm(call)
        ctx.fields["perm"] = perm
        ctx.comment.append(f"output axis k is input axis {tuple(call.params['perm'])}[k]")
        return ctx


KERNEL = ArmTransposeS8()
