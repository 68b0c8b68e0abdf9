"""RELU: ``max(x, 0)`` in int8, requantized from the input's scale to the output's as TFLite's
QuantizedReluX does (a standalone RELU the converter could not fuse). C: ``ed_lut_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, saturate
from edge_deploy.numerics.quant import round_half_away
from edge_deploy.ops._unary import UnaryOp, checked_multiplier, float_ratio
from edge_deploy.ops.base import TfliteCode

RELU, RELU6 = 19, 21


def relu_s8(x: np.ndarray, *, input_offset: int, output_offset: int, out_mult: int, out_shift: int,
            act_min: int, act_max: int, rounding: str = "double") -> np.ndarray:
    """RELU / RELU6, int8: ``(x + input_offset)`` requantized with ``(out_mult, out_shift)``, plus
    ``output_offset``, clamped to ``[act_min, act_max]`` (the real 0 and, for RELU6, 6)."""
    scaled = multiply_by_quantized_multiplier(x.astype(np.int64) + int(input_offset), out_mult, out_shift, rounding)
    return saturate(scaled + int(output_offset), act_min, act_max)


def relu_params(graph: Graph, op: Op, upper: float | None) -> dict[str, Any]:
    """RELU's (``upper`` None) or RELU6's (``upper`` 6) kernel parameters."""
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    mult, shift = checked_multiplier(op, float(np.float32(x.scale) / np.float32(y.scale)), "input / output scale")
    act_min = max(-128, y.zero_point)
    act_max = 127 if upper is None else min(127, y.zero_point + round_half_away(float_ratio(graph, op, upper)))
    return {"input_offset": -x.zero_point, "output_offset": y.zero_point, "out_mult": mult, "out_shift": shift,
            "act_min": act_min, "act_max": act_max}


class Relu(UnaryOp):
    kind = "relu"
    reference = staticmethod(relu_s8)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(RELU, "RELU", 2),)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return relu_params(graph, op, None)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return np.maximum(args[0], 0).astype(np.float32)


OP = Relu()
