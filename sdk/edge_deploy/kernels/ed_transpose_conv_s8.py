"""``ed_transpose_conv_s8``: edge-deploy's int8 TRANSPOSE_CONV (firmware/include/ed_transpose_conv.h),
a scatter into int32 accumulators of one output image held in scratch."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import shape_text
from edge_deploy.kernels._weighted import weighted_context
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class EdTransposeConvS8(KernelSpec):
    name = "ed_transpose_conv_s8"
    op = "transpose_conv"
    header = "ed_transpose_conv.h"
    cost_terms = ("macs", "outputs", "calls")
    calibration = ({"in": [(1, 5, 5, 4)], "w": (6, 3, 3, 4),
                    "attrs": {"stride": (2, 2), "padding": "same", "out_shape": (1, 10, 10, 6)}},
                   {"in": [(1, 8, 8, 8)], "w": (8, 2, 2, 8),
                    "attrs": {"stride": (2, 2), "padding": "valid", "out_shape": (1, 16, 16, 8)}},
                   {"in": [(1, 4, 6, 16)], "w": (4, 3, 3, 16),
                    "attrs": {"stride": (1, 1), "padding": "same", "out_shape": (1, 4, 6, 4)}},
                   {"in": [(1, 1, 32, 8)], "w": (8, 1, 4, 8),
                    "attrs": {"stride": (1, 2), "padding": "same", "out_shape": (1, 1, 64, 8)}},
                   {"in": [(1, 6, 6, 3)], "w": (12, 4, 4, 3),
                    "attrs": {"stride": (2, 2), "padding": "valid", "out_shape": (1, 14, 14, 12)}})

    def scratch_bytes(self, call: LayerCall) -> int:
        shape = call.output.shape
        return int(shape[1] * shape[2] * shape[3]) * 4

    def cost_features(self, call: LayerCall) -> list[float]:
        return [call.macs, int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        w = call.weights
        ctx = weighted_context(call, [CArray("weights", "int8_t", w.data, f"weights OHWI {shape_text(w.shape)}")])
        ctx.fields.update(dilation_h=1, dilation_w=1)
        ctx.comment.append("transpose convolution: each input pixel scattered into a stride-spaced window")
        return ctx


KERNEL = EdTransposeConvS8()
