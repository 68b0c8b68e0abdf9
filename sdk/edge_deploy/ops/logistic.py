"""LOGISTIC (sigmoid), int8, as TFLite computes it: a 256-entry table built once from the
quantization, in float32 (TFLite's ``LUTPopulate``: dequantize each int8 value, ``1 / (1 +
exp(-x))``, multiply by 256, round half away from zero, add the output zero point -128,
saturate), then one lookup per element. The output is int8 with scale 1/256 and zero point -128.
CMSIS-NN has no int8 sigmoid: the firmware runs ``ed_logistic_s8`` (the same table in flash)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops.base import OpDef, TfliteCode, op_error

LOGISTIC = 14
OUTPUT_SCALE = 1.0 / 256.0
OUTPUT_ZERO_POINT = -128


def logistic_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """The int8 output for every int8 input -128..127 (index ``value + 128``), in float32 as
    TFLite's ``LUTPopulate`` computes it."""
    values = np.arange(-128, 128, dtype=np.int32)
    dequantized = np.float32(input_scale) * (values - np.int32(input_zero_point)).astype(np.float32)
    with np.errstate(over="ignore"):
        transformed = np.float32(1.0) / (np.float32(1.0) + np.exp(-dequantized))
    scaled = transformed * np.float32(1.0 / OUTPUT_SCALE)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))  # TfLiteRound: half away from 0
    return np.clip(rounded.astype(np.int64) + OUTPUT_ZERO_POINT, -128, 127).astype(np.int8)


def logistic_s8(x: np.ndarray, *, input_scale: float, input_zero_point: int) -> np.ndarray:
    """LOGISTIC, int8: each element looked up in :func:`logistic_table`; returns int8 (zp -128)."""
    table = logistic_table(input_scale, input_zero_point)
    return table[x.astype(np.int64) + 128]


class Logistic(OpDef):
    kind = "logistic"
    reference = staticmethod(logistic_s8)
    in_place = True
    tflite_codes = (TfliteCode(LOGISTIC, "LOGISTIC", 2),)
    torch_modules = ("Sigmoid",)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        out = graph.tensor(op.outputs[0])
        if out.zero_point != OUTPUT_ZERO_POINT or abs(out.scale - OUTPUT_SCALE) > 1e-3 * OUTPUT_SCALE:
            raise op_error(op, f"int8 logistic output '{out.name}' must have scale 1/256 and zero point -128")

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x = graph.tensor(op.inputs[0])
        return {"input_scale": float(np.float32(x.scale)), "input_zero_point": int(x.zero_point)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return logistic_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-args[0].astype(np.float64)))).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return QuantParams([OUTPUT_SCALE], [OUTPUT_ZERO_POINT])

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Sigmoid."""
        src = lowering.source(node)
        return lowering.value(lowering.builder.logistic(src.name, node.name), torch_shape=src.torch_shape)

    def build(self, builder, x, name, *, quant=None) -> str:
        """LOGISTIC (sigmoid) of ``x``."""
        return builder.op(self.kind, name, [x], {}, quant)


OP = Logistic()
