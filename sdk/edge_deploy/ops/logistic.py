"""LOGISTIC (sigmoid), int8, as TFLite's reference kernel computes it: a table of the float32
sigmoid of each dequantized input, requantized to the fixed output scale 1/256, zero point -128.
C: ``ed_lut_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._unary import UnaryOp, float_dequantize, float_requantize
from edge_deploy.ops.base import TfliteCode, op_error

LOGISTIC = 14


def logistic_s8(x: np.ndarray, *, input_scale: float, input_zero_point: int, output_scale: float,
                output_zero_point: int) -> np.ndarray:
    """LOGISTIC, int8: ``1 / (1 + exp(-v))`` of the float32 dequantized input, requantized."""
    v = float_dequantize(x, input_scale, input_zero_point)
    with np.errstate(over="ignore"):
        y = np.float32(1.0) / (np.float32(1.0) + np.exp(-v))
    return float_requantize(y, output_scale, output_zero_point)


class Logistic(UnaryOp):
    kind = "logistic"
    reference = staticmethod(logistic_s8)
    tflite_codes = (TfliteCode(LOGISTIC, "LOGISTIC", 2),)
    torch_modules = ("Sigmoid",)
    aten_targets = ("sigmoid",)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        y = graph.tensor(op.outputs[0])
        if y.zero_point != -128 or y.scale != np.float32(1 / 256):
            raise op_error(op, f"int8 LOGISTIC output '{y.name}' must have scale 1/256 and zero point -128")

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        return {"input_scale": float(np.float32(x.scale)), "input_zero_point": x.zero_point,
                "output_scale": float(np.float32(y.scale)), "output_zero_point": y.zero_point}

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-args[0].astype(np.float64)))).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return QuantParams([1.0 / 256.0], [-128])

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Sigmoid."""
        src = lowering.source(node)
        return lowering.value(lowering.builder.logistic(src.name, node.name), torch_shape=src.torch_shape)


    def lower_aten(self, lowering, node) -> Any:
        """``aten.sigmoid``."""
        src = lowering.tensor(node, 0)
        return lowering.result(node, lowering.builder.logistic(src.name, node.name))


OP = Logistic()
