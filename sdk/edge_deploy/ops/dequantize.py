"""DEQUANTIZE: int8 / uint8 to float32 at a model's float output, ``scale * (q - zero_point)``
(TFLite's Dequantize: the double product, rounded to float32, which one float32 multiply gives
exactly). C: ``ed_dequantize_s8_f32``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._boundary import check_byte_tensor, check_float_tensor
from edge_deploy.ops.base import OpDef, TfliteCode

DEQUANTIZE = 6


def dequantize_s8(x: np.ndarray, *, scale: float, zero_point: int) -> np.ndarray:
    """DEQUANTIZE: ``scale * (x - zero_point)`` in float32."""
    return (np.float32(scale) * (x.astype(np.int32) - int(zero_point)).astype(np.float32)).astype(np.float32)


class Dequantize(OpDef):
    kind = "dequantize"
    reference = staticmethod(dequantize_s8)
    tflite_codes = (TfliteCode(DEQUANTIZE, "DEQUANTIZE", 2),)

    def check_activations(self, graph: Graph, op: Op) -> None:
        check_byte_tensor(op, graph.tensor(op.inputs[0]))
        check_float_tensor(op, graph.tensor(op.outputs[0]))

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x = graph.tensor(op.inputs[0])
        return {"scale": float(np.float32(x.scale)), "zero_point": x.zero_point}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return dequantize_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return args[0]

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 1:
            raise reader.error(f"(DEQUANTIZE) has {len(reader.inputs)} inputs, expected 1")
        return {}

    def build(self, builder, x, name) -> str:
        """DEQUANTIZE ``x`` to float32."""
        out = builder.op(self.kind, name, [x], {}, None)
        builder.graph.tensors[out].dtype = "float32"
        return out


OP = Dequantize()
