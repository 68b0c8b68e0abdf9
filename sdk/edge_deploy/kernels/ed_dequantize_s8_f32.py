"""``ed_dequantize_s8_f32``: edge-deploy's DEQUANTIZE of an int8 / uint8 model output to float32
(firmware/include/ed_elementwise.h)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class EdDequantizeS8F32(KernelSpec):
    name = "ed_dequantize_s8_f32"
    op = "dequantize"
    header = "ed_elementwise.h"
    cost_terms = ("elements", "calls")
    calibration = tuple({"in": [s], "out_dtype": "float32"} for s in ((1, 10), (1, 490), (1, 1, 64, 8), (1, 7)))

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.constant("ZERO_POINT", p["zero_point"], f"input zero point ({call.input.dtype})")
        ctx.fields.update(size=int(np.prod(call.output.shape)), scale=c_float(p["scale"]),
                          is_unsigned=int(call.input.dtype == "uint8"))
        ctx.comment.append(f"{call.input.dtype} -> float32: {c_float(p['scale'])} * (q - zero point)")
        return ctx


KERNEL = EdDequantizeS8F32()
