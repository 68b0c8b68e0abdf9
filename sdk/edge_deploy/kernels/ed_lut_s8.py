"""``ed_lut_s8``: edge-deploy's table lookup for every 8-bit op of one input whose output element
depends only on the same input element (``OpDef.elementwise_unary``: RELU, RELU6, LEAKY_RELU,
LOGISTIC, TANH, HARD_SWISH, a requantizing QUANTIZE). The 256 results come from the op's own int8
reference, so the firmware computes exactly what the interpreter does (firmware/include/ed_elementwise.h)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall
from edge_deploy.ops import get_op


class EdLutS8(KernelSpec):
    name = "ed_lut_s8"
    op = "relu"  # the first of the ops it serves; serves() names them all
    header = "ed_elementwise.h"
    cost_terms = ("elements", "calls")
    calibration = tuple({"op": kind, "in": [s]} for kind, s in (
        ("relu", (1, 16, 16, 16)), ("hard_swish", (1, 8, 8, 32)), ("logistic", (1, 4, 4, 64)),
        ("tanh", (1, 101)), ("relu6", (1, 3))))

    def serves(self, op_kind: str) -> bool:
        return get_op(op_kind).elementwise_unary

    def applies(self, call: LayerCall) -> str | None:
        if call.input.dtype not in ("int8", "uint8"):
            return f"its input is {call.input.dtype}; a table needs 8-bit input"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        definition = get_op(call.op)
        table = definition.byte_table(call.params, call.input.dtype)
        ctx = KernelContext()
        ctx.arrays.append(CArray("table", "int8_t", table.view(np.int8),
                                 f"{call.kind} of every input byte (index: the byte read unsigned, so 0..127 "
                                 "then -128..-1), from the op's int8 reference"))
        ctx.fields["size"] = int(np.prod(call.output.shape))
        ctx.comment.append(f"{call.kind} as a 256-entry table lookup")
        return ctx


KERNEL = EdLutS8()
