"""``ed_quantize_f32_s8``: edge-deploy's QUANTIZE of a float32 model input to int8 / uint8
(TFLite's AffineQuantize; firmware/include/ed_elementwise.h)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class EdQuantizeF32S8(KernelSpec):
    name = "ed_quantize_f32_s8"
    op = "quantize"
    header = "ed_elementwise.h"
    cost_terms = ("elements", "calls")
    calibration = tuple({"in": [s], "dtypes": ["float32"]} for s in ((1, 16, 16, 3), (1, 490), (1, 1, 64, 8), (1, 7)))

    def applies(self, call: LayerCall) -> str | None:
        if call.input.dtype != "float32":
            return f"its input is {call.input.dtype}, not float32"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.constant("ZERO_POINT", p["output_zero_point"], f"output zero point ({call.output.dtype})")
        ctx.constant("Q_MIN", p["q_min"])
        ctx.constant("Q_MAX", p["q_max"])
        ctx.fields.update(size=int(np.prod(call.output.shape)), scale=c_float(p["output_scale"]))
        ctx.comment.append(f"float32 -> {call.output.dtype}: round(x / {c_float(p['output_scale'])}) + zero point, "
                           "halves away from zero")
        return ctx


KERNEL = EdQuantizeF32S8()
