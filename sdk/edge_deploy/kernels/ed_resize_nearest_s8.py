"""``ed_resize_nearest_s8``: edge-deploy's RESIZE_NEAREST_NEIGHBOR with the source rows and columns
as tables (the op module computes them as TFLite's reference does; CMSIS-NN has no resize)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class EdResizeNearestS8(KernelSpec):
    name = "ed_resize_nearest_s8"
    op = "resize_nearest_neighbor"
    header = "ed_elementwise.h"
    cost_terms = ("outputs", "pixels", "calls")
    calibration = ({"in": [(1, 4, 4, 8)], "attrs": {"size": (8, 8)}},
                   {"in": [(1, 8, 8, 16)], "attrs": {"size": (16, 16)}},
                   {"in": [(1, 5, 7, 3)], "attrs": {"size": (10, 9), "half_pixel_centers": True}},
                   {"in": [(1, 6, 6, 32)], "attrs": {"size": (12, 12), "align_corners": True}},
                   {"in": [(1, 10, 10, 4)], "attrs": {"size": (5, 5)}})

    def applies(self, call: LayerCall) -> str | None:
        if max(call.input.shape[1:3]) > 32767:
            return "the image is too large for 16-bit row and column tables"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        shape = call.output.shape
        return [int(np.prod(shape)), int(np.prod(shape[:3])), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.arrays.append(CArray("rows", "int16_t", np.array(p["rows"], dtype=np.int16),
                                 "input row of each output row (TFLite's nearest-neighbour rule)"))
        ctx.arrays.append(CArray("cols", "int16_t", np.array(p["cols"], dtype=np.int16),
                                 "input column of each output column"))
        corners = "align_corners" if call.op.attrs.get("align_corners") else \
            "half_pixel_centers" if call.op.attrs.get("half_pixel_centers") else "plain"
        ctx.comment.append(f"nearest neighbour ({corners}): {tuple(call.input.shape[1:3])} -> "
                           f"{tuple(call.output.shape[1:3])}")
        return ctx


KERNEL = EdResizeNearestS8()
