"""``ed_mean_s8``: edge-deploy's MEAN over any NHWC axes with TFLite's arithmetic (CMSIS-NN has
no MEAN; firmware/include/ed_reduce.h). SUM runs on it too: the same sum, its multiplier without
the element count folded in (the op's kernel parameters say which)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels._reduce import REDUCE_COST_TERMS, reduce_features, reduced_axes
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class EdMeanS8(KernelSpec):
    name = "ed_mean_s8"
    op = "mean"
    header = "ed_reduce.h"
    cost_terms = REDUCE_COST_TERMS
    calibration = tuple({"in": [s], "attrs": {"axis": a, "keep_dims": True}} for s, a in (
        ((1, 8, 8, 32), (1, 2)), ((1, 4, 4, 64), (1, 2)), ((1, 1, 16, 16), (2,)), ((1, 6, 6, 8), (1, 2, 3)),
        ((1, 5, 7, 9), (3,)), ((1, 3, 10, 4), (2,)))) + (
        {"op": "sum", "in": [(1, 8, 8, 16)], "attrs": {"axis": (1, 2), "keep_dims": True}},)

    def serves(self, op_kind: str) -> bool:
        return op_kind in ("mean", "sum")

    def applies(self, call: LayerCall) -> str | None:
        if len(call.input.shape) > 4:
            return "it reduces a tensor of rank > 4 (ed_mean_s8 takes up to NHWC; reshape it first)"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        return reduce_features(call)

    def context(self, call: LayerCall) -> KernelContext:
        p, x, y = call.params, call.input, call.output
        axes = reduced_axes(call)
        ctx = KernelContext()
        ctx.constant("INPUT_OFFSET", p["input_offset"], f"-(input zero point); input scale {c_float(x.scale)}")
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        ctx.constant("OUT_MULT", p["out_mult"],
                     "input scale / output scale / element count (Q31, count folded in as TFLite does)"
                     if call.kind == "mean" else "input scale / output scale (Q31)")
        ctx.constant("OUT_SHIFT", p["out_shift"])
        ctx.constant("AXIS_MASK", sum(1 << a for a in axes), "reduced axes: 1 n, 2 h, 4 w, 8 c")
        count = int(np.prod([x.shape[a] for a in p["axis"]]))
        ctx.comment.append(f"{call.kind} over {', '.join('nhwc'[a] for a in axes)} ({count} elements each)")
        return ctx


KERNEL = EdMeanS8()
