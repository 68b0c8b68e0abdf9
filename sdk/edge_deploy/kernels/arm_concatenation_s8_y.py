"""``arm_concatenation_s8_y``: CMSIS-NN's concatenation along Y, once per input: the axes before
the joined one fold into Z, those after it into X (so any axis, any rank; PACK too)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall

_UINT16 = 65535


class ArmConcatenationS8Y(KernelSpec):
    name = "arm_concatenation_s8_y"
    op = "concatenation"
    upstream = "4.0.0"
    cost_terms = ("elements", "blocks", "calls")
    calibration = tuple({**layer, "shared_quant": True} for layer in (
        {"in": [(1, 8, 8, 16), (1, 8, 8, 24)], "attrs": {"axis": 3}},
        {"in": [(1, 4, 10, 8), (1, 4, 6, 8), (1, 4, 2, 8)], "attrs": {"axis": 2}},
        {"in": [(1, 20), (1, 30)], "attrs": {"axis": 1}},
        {"in": [(1, 5, 7), (1, 5, 7)], "attrs": {"axis": 1, "new_axis": True}},
        {"in": [(1, 16, 1, 3), (1, 16, 1, 1)], "attrs": {"axis": 3}}))

    def _geometry(self, call: LayerCall) -> tuple[int, int, list[int]]:
        out, axis = call.output.shape, int(call.params["axis"])
        outer, inner = int(np.prod(out[:axis])), int(np.prod(out[axis + 1:]))
        parts = [1 if call.params["new_axis"] else int(s[axis]) for s in call.params["in_shapes"]]
        return outer, inner, parts

    def applies(self, call: LayerCall) -> str | None:
        outer, inner, parts = self._geometry(call)
        if max(outer, inner, sum(parts)) > _UINT16:
            return f"a folded size ({outer} x {sum(parts)} x {inner}) exceeds the API's uint16 sizes"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        outer, _, parts = self._geometry(call)
        return [int(np.prod(call.output.shape)), outer * len(parts), len(parts)]

    def context(self, call: LayerCall) -> KernelContext:
        ctx = KernelContext()
        outer, inner, parts = self._geometry(call)
        offsets = np.concatenate([[0], np.cumsum(parts)[:-1]]).astype(int)
        sources = operand_sources(call, ctx)
        ctx.fields.update(outer=outer, inner=inner, total=sum(parts),
                          parts=[{"source": s, "size": n, "offset": int(o)} for s, n, o in zip(sources, parts, offsets)])
        what = "PACK: inputs stacked on new axis" if call.params["new_axis"] else "joined along axis"
        ctx.comment.append(f"{what} {call.params['axis']}, {len(parts)} inputs")
        return ctx


KERNEL = ArmConcatenationS8Y()
