"""TANH, int8, as TFLite's reference kernel computes it: a table of the float32 tanh of each
dequantized input, requantized (TensorFlow's converter gives the output scale 1/128, zero point 0). C: ``ed_lut_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._unary import UnaryOp, float_dequantize, float_requantize
from edge_deploy.ops.base import TfliteCode

TANH = 28


def tanh_s8(x: np.ndarray, *, input_scale: float, input_zero_point: int, output_scale: float,
            output_zero_point: int) -> np.ndarray:
    """TANH, int8: ``tanh`` of the float32 dequantized input, requantized."""
    return float_requantize(np.tanh(float_dequantize(x, input_scale, input_zero_point)), output_scale,
                            output_zero_point)


class Tanh(UnaryOp):
    kind = "tanh"
    reference = staticmethod(tanh_s8)
    tflite_codes = (TfliteCode(TANH, "TANH", 2),)
    torch_modules = ("Tanh",)
    aten_targets = ("tanh",)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        return {"input_scale": float(np.float32(x.scale)), "input_zero_point": x.zero_point,
                "output_scale": float(np.float32(y.scale)), "output_zero_point": y.zero_point}

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return np.tanh(args[0]).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return QuantParams([1.0 / 128.0], [0])

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Tanh."""
        src = lowering.source(node)
        return lowering.value(lowering.builder.tanh(src.name, node.name), torch_shape=src.torch_shape)


    def lower_aten(self, lowering, node) -> Any:
        """``aten.tanh``."""
        src = lowering.tensor(node, 0)
        return lowering.result(node, lowering.builder.tanh(src.name, node.name))


OP = Tanh()
