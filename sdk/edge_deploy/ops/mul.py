"""MUL: element-wise product of two int8 tensors (NumPy broadcasting in the reference), requantized
once by ``input1_scale * input2_scale / output_scale``, fused ReLU / ReLU6. C API:
``arm_elementwise_mul_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, saturate
from edge_deploy.ops._binary import BinaryOp
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops.base import ACTIVATION, TfliteCode, fused_activation_range

MUL = 18
MUL_OPTIONS = 21


def mul_s8(
    a: np.ndarray,
    b: np.ndarray,
    *,
    input1_offset: int,
    input2_offset: int,
    output_offset: int,
    out_mult: int,
    out_shift: int,
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """MUL, int8 (``arm_elementwise_mul_s8``), with NumPy broadcasting of ``a`` against ``b``:
    ``(a + input1_offset) * (b + input2_offset)`` requantized with ``(out_mult, out_shift)``, plus
    ``output_offset``, clamped to ``[act_min, act_max]``."""
    product = (a.astype(np.int64) + int(input1_offset)) * (b.astype(np.int64) + int(input2_offset))
    scaled = multiply_by_quantized_multiplier(product, out_mult, out_shift, rounding)
    return saturate(scaled + int(output_offset), act_min, act_max)


class Mul(BinaryOp):
    kind = "mul"
    reference = staticmethod(mul_s8)
    attrs = (ACTIVATION,)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(MUL, "MUL", 2),)
    torch_functions = ("mul",)
    aten_targets = ("mul", "div")
    tflite_options = MUL_OPTIONS

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, b, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
        # TFLite multiplies and divides the float32 scales in float32, then widens to double.
        real = float(np.float32(x.scale) * np.float32(b.scale) / np.float32(y.scale))
        mult, shift = quantize_multiplier(real)
        act_min, act_max = fused_activation_range(op, y)
        return {"input1_offset": -x.zero_point, "input2_offset": -b.zero_point, "output_offset": y.zero_point,
                "out_mult": mult, "out_shift": shift, "act_min": act_min, "act_max": act_max}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return mul_s8(args[0], args[1], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return clamp_activation(args[0] * args[1], op.attrs["activation"])

    def lower_torch(self, lowering, node, target) -> Any:
        """``a * b`` of two tensors from other layers."""
        a, b = lowering.operand(node, 0), lowering.operand(node, 1)
        return lowering.value(lowering.builder.mul(a.name, b.name, node.name), torch_shape=a.torch_shape)

    def lower_aten(self, lowering, node) -> Any:
        """``aten.mul.Tensor`` of tensors from other layers or a number (NumPy broadcasting in
        NHWC), and ``aten.div`` by a number (a MUL by its reciprocal)."""
        a = lowering.operand(node, 0)
        if node.target.__name__.startswith("div"):
            divisor = lowering.arg(node, 1)
            if not isinstance(divisor, (int, float)) or isinstance(divisor, bool) or divisor == 0 \
                    or lowering.arg(node, "rounding_mode", None) is not None:
                raise lowering.error(f"{lowering.label(node)}: only a true division by a nonzero number can be lowered")
            b = lowering.builder.constant(f"{node.name}/reciprocal", np.array([1.0 / float(divisor)]), "float32")
        else:
            b = lowering.operand(node, 1)
        return lowering.result(node, lowering.builder.mul(a, b, node.name))


OP = Mul()
