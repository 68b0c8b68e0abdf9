"""``ed_softmax_s8``: edge-deploy's softmax over the last axis. The exponentials TFLite evaluates
depend on the difference to the row maximum only (-255..0), so the build tables them (1 KB of
flash) and a row costs its maximum, a sum, one reciprocal and a multiply-add per element
(firmware/kernels/ed_softmax_s8.c)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.arm_softmax_s8 import ArmSoftmaxS8
from edge_deploy.kernels.base import CArray, KernelContext, LayerCall
from edge_deploy.ops.softmax import exp_table


class EdSoftmaxS8(ArmSoftmaxS8):
    name = "ed_softmax_s8"
    family = "tables"  # the flash fallback may take it back
    header = "ed_pool.h"
    upstream = None

    def context(self, call: LayerCall) -> KernelContext:
        x = call.input
        ctx = KernelContext()
        table = exp_table(**{k: call.params[k] for k in ("input_mult", "input_left_shift", "diff_min")})
        ctx.arrays.append(CArray("exp_table", "int32_t", table.astype(np.int32),
                                 f"exp(beta * input scale {c_float(x.scale)} * -d) in Q0.31 for d = 0..255 (0: below diff_min, "
                                 "left out), as TFLite's fixed point evaluates it"))
        ctx.fields.update(row_size=int(x.shape[-1]), rows=int(np.prod(x.shape)) // int(x.shape[-1]))
        return ctx


KERNEL = EdSoftmaxS8()
