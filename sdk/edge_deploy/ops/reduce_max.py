"""REDUCE_MAX: the largest raw int8 value over some axes (TFLite keeps the input's quantization and
compares raw values). C: ``ed_reduce_max_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant, same_quant_check, samples
from edge_deploy.ops.base import TfliteCode
from edge_deploy.ops.mean import Mean, mean_axes

REDUCE_MAX = 82


def reduce_max_s8(x: np.ndarray, *, in_shape: tuple[int, ...], axis: tuple[int, ...]) -> np.ndarray:
    """REDUCE_MAX of each sample (shaped ``in_shape``) over ``axis``, dimensions kept (size 1)."""
    return samples(x, in_shape).max(axis=tuple(a + 1 for a in axis), keepdims=True).astype(np.int8)


class ReduceMax(Mean):
    kind = "reduce_max"
    reference = staticmethod(reduce_max_s8)
    rounding_sensitive = False
    tflite_codes = (TfliteCode(REDUCE_MAX, "REDUCE_MAX", 2),)
    torch_modules = ()

    def check_quantized(self, graph: Graph, op: Op) -> None:
        same_quant_check(graph, op, op.inputs[:1])

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {"in_shape": tuple(graph.tensor(op.inputs[0]).shape), "axis": mean_axes(graph, op)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return reduce_max_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        rows = samples(args[0], graph.tensor(op.inputs[0]).shape)
        return rows.max(axis=tuple(a + 1 for a in mean_axes(graph, op)), keepdims=True).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    def lower_torch(self, lowering, node, module) -> Any:
        raise NotImplementedError("reduce_max has no PyTorch lowering")

    def build(self, builder, x, name, *, axis=(1, 2), keep_dims=False, quant=None) -> str:
        """REDUCE_MAX of ``x`` over ``axis``."""
        return builder.op(self.kind, name, [x], {"axis": tuple(axis), "keep_dims": bool(keep_dims)}, quant)


OP = ReduceMax()
