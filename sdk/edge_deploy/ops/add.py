"""ADD: element-wise sum of two int8 tensors (NumPy broadcasting in the reference), each
rescaled to a common scale with TFLite's headroom shift, fused ReLU / ReLU6. May write over its
first input. C API: ``arm_elementwise_add_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, saturate, wrap_int32
from edge_deploy.ops._binary import BinaryOp
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops.base import ACTIVATION, TfliteCode, fused_activation_range

ADD = 0
ADD_OPTIONS = 11
ADD_LEFT_SHIFT = 20  # TFLite's headroom shift for int8 ADD


def add_s8(
    a: np.ndarray,
    b: np.ndarray,
    *,
    input1_offset: int,
    input1_mult: int,
    input1_shift: int,
    input2_offset: int,
    input2_mult: int,
    input2_shift: int,
    left_shift: int,
    output_offset: int,
    out_mult: int,
    out_shift: int,
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """ADD, int8 (``arm_elementwise_add_s8``), with NumPy broadcasting of ``a`` against ``b``.

    Each input is offset, shifted left by ``left_shift`` (20 in TFLite), rescaled to a common
    scale, summed and rescaled to the output; all shifts here are <= 0.
    """
    def rescale(v, mult, shift):
        return multiply_by_quantized_multiplier(v, mult, shift, rounding)

    a1 = (a.astype(np.int64) + int(input1_offset)) << int(left_shift)
    b1 = (b.astype(np.int64) + int(input2_offset)) << int(left_shift)
    total = wrap_int32(rescale(a1, input1_mult, input1_shift) + rescale(b1, input2_mult, input2_shift))
    return saturate(rescale(total, out_mult, out_shift) + int(output_offset), act_min, act_max)


class Add(BinaryOp):
    kind = "add"
    reference = staticmethod(add_s8)
    attrs = (ACTIVATION,)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(ADD, "ADD", 2),)
    torch_functions = ("add",)
    aten_targets = ("add",)
    tflite_options = ADD_OPTIONS
    tflite_option_slots = 2  # fused_activation_function, pot_scale_int16
    float_function = staticmethod(np.add)  # SUB, a subclass, differs in this and its facts above

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, b, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
        twice_max = 2.0 * float(max(np.float32(x.scale), np.float32(b.scale)))
        m1, s1 = quantize_multiplier(float(np.float32(x.scale)) / twice_max)
        m2, s2 = quantize_multiplier(float(np.float32(b.scale)) / twice_max)
        mo, so = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * float(np.float32(y.scale))))
        act_min, act_max = fused_activation_range(op, y)
        return {
            "input1_offset": -x.zero_point, "input1_mult": m1, "input1_shift": s1,
            "input2_offset": -b.zero_point, "input2_mult": m2, "input2_shift": s2,
            "left_shift": ADD_LEFT_SHIFT,
            "output_offset": y.zero_point, "out_mult": mo, "out_shift": so,
            "act_min": act_min, "act_max": act_max,
        }

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return add_s8(args[0], args[1], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return clamp_activation(self.float_function(args[0], args[1]), op.attrs["activation"])

    def lower_torch(self, lowering, node, target) -> Any:
        """``a + b`` (``a - b``) of two tensors from other layers."""
        a, b = lowering.operand(node, 0), lowering.operand(node, 1)
        built = getattr(lowering.builder, self.kind)(a.name, b.name, node.name)
        return lowering.value(built, torch_shape=a.torch_shape)

    def lower_aten(self, lowering, node) -> Any:
        """``aten.add.Tensor`` (``aten.sub.Tensor``) of tensors from other layers or a number (NumPy
        broadcasting in NHWC, alpha 1)."""
        a, b = lowering.operand(node, 0), lowering.operand(node, 1)
        if lowering.arg(node, 2, 1) != 1:
            raise lowering.error(f"{lowering.label(node)}: alpha other than 1 cannot be lowered")
        return lowering.result(node, getattr(lowering.builder, self.kind)(a, b, node.name))


OP = Add()
