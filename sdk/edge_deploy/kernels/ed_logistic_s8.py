"""``ed_logistic_s8``: LOGISTIC (sigmoid) by table lookup. CMSIS-NN has no int8 sigmoid; TFLite
computes it from a 256-entry table built from the quantization, and the firmware holds that same
table (:func:`edge_deploy.ops.logistic.logistic_table`) in flash and looks every element up in it
(the loop is in the partial, ``templates/kernels/ed_logistic_s8.c.j2``)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall
from edge_deploy.ops.logistic import logistic_table


class EdLogisticS8(KernelSpec):
    name = "ed_logistic_s8"
    op = "logistic"
    cost_terms = ("elements", "calls")
    calibration = tuple({"in": [s]} for s in ((1, 1, 1, 16), (1, 1, 1, 96), (1, 8, 8, 16), (1, 16, 16, 32)))

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p, x = call.params, call.input
        ctx = KernelContext()
        ctx.constant("SIZE", int(np.prod(call.output.shape)), "elements")
        ctx.arrays.append(CArray("table", "int8_t", logistic_table(p["input_scale"], p["input_zero_point"]),
                                 f"sigmoid of every int8 input -128..127 (input scale {c_float(x.scale)}, zero point "
                                 f"{x.zero_point}); output scale 1/256, zero point -128"))
        return ctx


KERNEL = EdLogisticS8()
