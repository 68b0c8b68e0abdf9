"""TRANSPOSE: the input's axes permuted (``perm``), int8 bytes moved, quantization kept; a
PyTorch-exported model starts with one (NCHW -> NHWC). C API: ``arm_transpose_s8`` (rank <= 4);
no code when only axes of size 1 move (a view: the same bytes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant, int_list_check, same_quant_check, samples
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

TRANSPOSE = 39
TRANSPOSE_OPTIONS = 26


def transpose_s8(x: np.ndarray, *, in_shape: tuple[int, ...], perm: tuple[int, ...]) -> np.ndarray:
    """TRANSPOSE of each sample (shaped ``in_shape``) of the batch ``x``: output axis ``k`` is
    input axis ``perm[k]``."""
    return samples(x, in_shape).transpose((0,) + tuple(int(p) + 1 for p in perm))


class Transpose(OpDef):
    kind = "transpose"
    reference = staticmethod(transpose_s8)
    attrs = (Attr("perm", int_list_check),)
    tflite_codes = (TfliteCode(TRANSPOSE, "TRANSPOSE", 2),)

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        perm = [int(p) for p in op.attrs["perm"]]
        if sorted(perm) != list(range(len(x))):
            raise op_error(op, f"perm {perm} is not a permutation of the {len(x)} axes of input {x}")
        return tuple(x[p] for p in perm)

    def is_view(self, graph: Graph, op: Op) -> bool:
        """Moving only axes of size 1 keeps every byte in place: (1, 1, H, W) -> (1, H, W, 1), a
        PyTorch model's one-channel input, is the same bytes."""
        x = graph.tensor(op.inputs[0]).shape
        moved = [p for p in op.attrs["perm"] if x[p] != 1]
        return moved == sorted(moved)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        same_quant_check(graph, op, op.inputs[:1])

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {"in_shape": tuple(graph.tensor(op.inputs[0]).shape), "perm": tuple(int(p) for p in op.attrs["perm"])}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return transpose_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return transpose_s8(args[0], **self.kernel_params(graph, op))

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"(TRANSPOSE) has {len(reader.inputs)} inputs, expected 2 (the tensor, perm)")
        perm = reader.constant(1).reshape(-1)
        rank = len(reader.shape(0))
        return {"perm": tuple(int(p) % rank if -rank <= int(p) < rank else int(p) for p in perm)}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(TRANSPOSE_OPTIONS, [])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [("perm", np.array(op.attrs["perm"], dtype=np.int32))]

    def build(self, builder, x, name, perm, *, quant=None) -> str:
        """TRANSPOSE ``x`` by ``perm``."""
        return builder.op(self.kind, name, [x], {"perm": tuple(int(p) for p in perm)}, quant)


OP = Transpose()
