"""SUB: element-wise difference of two int8 tensors (NumPy broadcasting), rescaled as ADD with the
second input's multiplier negated (what TFLite's SUB computes), fused ReLU / ReLU6. C API:
``arm_elementwise_add_s8`` with that multiplier."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops.add import OP as ADD_OP
from edge_deploy.ops.add import add_s8
from edge_deploy.ops.base import ACTIVATION, OpDef, TfliteCode

SUB = 41
SUB_OPTIONS = 28
ACTIVATION_SLOT = 0


class Sub(OpDef):
    kind = "sub"
    reference = staticmethod(add_s8)
    attrs = (ACTIVATION,)
    arity = (2, 2)
    in_place = True
    elementwise_binary = True
    rounding_sensitive = True
    tflite_codes = (TfliteCode(SUB, "SUB", 3),)
    constant_operands = True
    tflite_data_inputs = 2
    torch_functions = ("sub",)
    aten_targets = ("sub",)

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        return ADD_OP.output_shape(graph, op)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        ADD_OP.check_quantized(graph, op)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        params = ADD_OP.kernel_params(graph, op)
        return {**params, "input2_mult": -params["input2_mult"]}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return add_s8(args[0], args[1], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return clamp_activation(args[0] - args[1], op.attrs["activation"])

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"(SUB) has {len(reader.inputs)} inputs, expected 2")
        return {"activation": reader.activation(ACTIVATION_SLOT)}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(SUB_OPTIONS, [(ACTIVATION_SLOT, "activation", op.attrs["activation"])], slots=2)

    def lower_torch(self, lowering, node, target) -> Any:
        """``a - b`` of two tensors from other layers."""
        a, b = lowering.operand(node, 0), lowering.operand(node, 1)
        return lowering.value(lowering.builder.sub(a.name, b.name, node.name), torch_shape=a.torch_shape)

    def lower_aten(self, lowering, node) -> Any:
        """``aten.sub.Tensor`` of tensors from other layers or a number (NumPy broadcasting in NHWC, alpha 1)."""
        a, b = lowering.operand(node, 0), lowering.operand(node, 1)
        if lowering.arg(node, 2, 1) != 1:
            raise lowering.error(f"{lowering.label(node)}: alpha other than 1 cannot be lowered")
        return lowering.result(node, lowering.builder.sub(a, b, node.name))

    def build(self, builder, a, b, name, *, activation="none", quant=None) -> str:
        """Element-wise ``a - b`` (broadcasting)."""
        return builder.op(self.kind, name, [a, b], {"activation": activation}, quant)


OP = Sub()
