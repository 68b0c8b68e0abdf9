"""What the element-wise ops of two tensors share (ADD, SUB, MUL, MAXIMUM, MINIMUM): two inputs,
NumPy broadcasting of the shapes, the second input checked as an int8 activation, the output
allowed over the first input, constants as operands, and a TFLite options table that holds the
fused activation for the ops that have one."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops.base import ACTIVATION, OpDef, activation_tensor_check, op_error

ACTIVATION_SLOT = 0  # fused_activation_function in AddOptions, SubOptions and MulOptions


class BinaryOp(OpDef):
    """An element-wise op of two tensors; ``attrs`` holds ACTIVATION for the ops that fuse one."""

    arity = (2, 2)
    in_place = True
    elementwise_binary = True
    constant_operands = True
    tflite_data_inputs = 2
    # The builtin options table and its field count (None: the fields written).
    tflite_options: ClassVar[int]
    tflite_option_slots: ClassVar[int | None] = None

    @property
    def fused_activation(self) -> bool:
        """Whether the op has a fused activation attribute."""
        return ACTIVATION in self.attrs

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, y = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        try:
            return tuple(int(d) for d in np.broadcast_shapes(x, y))
        except ValueError:
            raise op_error(op, f"shapes {x} and {y} do not broadcast") from None

    def check_quantized(self, graph: Graph, op: Op) -> None:
        activation_tensor_check(op, graph.tensor(op.inputs[1]))

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"({self.tflite_codes[0].name}) has {len(reader.inputs)} inputs, expected 2")
        return {"activation": reader.activation(ACTIVATION_SLOT)} if self.fused_activation else {}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        fields = [(ACTIVATION_SLOT, "activation", op.attrs["activation"])] if self.fused_activation else []
        return writer.table(self.tflite_options, fields, slots=self.tflite_option_slots)

    def build(self, builder, a, b, name, *, activation="none", quant=None) -> str:
        """The element-wise op on ``a`` and ``b`` (broadcasting), with a fused ``activation``
        where the op has one."""
        if not self.fused_activation:
            if activation != "none":
                raise op_error(Op(self.kind, name, [a, b], []), "has no fused activation")
            return builder.op(self.kind, name, [a, b], {}, quant)
        return builder.op(self.kind, name, [a, b], {"activation": activation}, quant)
