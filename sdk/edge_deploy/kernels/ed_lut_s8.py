"""``ed_lut_s8``: edge-deploy's table lookup for every 8-bit op of one input whose output element
depends only on the same input element (``OpDef.elementwise_unary``: RELU, RELU6, LEAKY_RELU,
LOGISTIC, TANH, HARD_SWISH, a requantizing QUANTIZE), and for an element-wise op of two inputs
(``OpDef.elementwise_binary``: ADD, SUB, MUL, MAXIMUM, MINIMUM) whose other input is one constant
value (``x + 3``, ``x * 0.5``). The 256 results come from the op's own int8 reference, so the
firmware computes exactly what the interpreter does (firmware/include/ed_elementwise.h)."""

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
        ("tanh", (1, 101)), ("relu6", (1, 3)))) + ({"op": "add", "in": [(1, 12, 12, 8)], "scalar": True},)

    def serves(self, op_kind: str) -> bool:
        definition = get_op(op_kind)
        return definition.elementwise_unary or definition.elementwise_binary

    def applies(self, call: LayerCall) -> str | None:
        tensors = [call.graph.tensor(n) for n in call.op.inputs]
        variable = [t for t in tensors if not t.is_constant]
        if len(variable) != 1 or any(t.is_constant and t.data.size != 1 for t in tensors):
            return "its inputs are not one tensor and single constant values"
        if variable[0].dtype not in ("int8", "uint8"):
            return f"its input is {variable[0].dtype}; a table needs 8-bit input"
        return None

    def table(self, call: LayerCall) -> np.ndarray:
        """The op's int8 reference on every input byte, as 256 bytes (index: the byte unsigned)."""
        definition = get_op(call.op)
        tensors = [call.graph.tensor(n) for n in call.op.inputs]
        if len(tensors) == 1:
            return definition.byte_table(call.params, tensors[0].dtype)
        variable = next(t for t in tensors if not t.is_constant)
        values = np.arange(256, dtype=np.uint8).view(np.dtype(variable.dtype))
        args = [values if not t.is_constant else np.asarray(t.data).reshape(1) for t in tensors]
        return np.asarray(definition.run_int8(args, call.params)).reshape(256).view(np.uint8)

    def cost_features(self, call: LayerCall) -> list[float]:
        return [int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        table = self.table(call)
        ctx = KernelContext()
        ctx.arrays.append(CArray("table", "int8_t", table.view(np.int8),
                                 f"{call.kind} of every input byte (index: the byte read unsigned, so 0..127 "
                                 "then -128..-1), from the op's int8 reference"))
        ctx.fields["size"] = int(np.prod(call.output.shape))
        ctx.comment.append(f"{call.kind} as a 256-entry table lookup")
        return ctx


KERNEL = EdLutS8()
