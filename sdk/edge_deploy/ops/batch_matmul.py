"""BATCH_MATMUL: ``lhs @ rhs`` over broadcast batch axes (attention scores), int8 with one
requantization by ``lhs_scale * rhs_scale / output_scale`` (TFLite's int8 BatchMatMul),
``adj_x`` / ``adj_y`` transposing the last two axes of an operand first. C API:
``arm_batch_matmul_s8`` (CMSIS-NN v7.0.0: row times row, the RHS transposed; the layer
transposes an operand in scratch when the adjoint flags need it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, saturate, wrap_int32
from edge_deploy.ops._movement import samples
from edge_deploy.ops._unary import checked_multiplier
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, activation_tensor_check, op_error

BATCH_MATMUL = 126
BATCH_MATMUL_OPTIONS = 101
ADJ_X_SLOT, ADJ_Y_SLOT, ASYMMETRIC_SLOT = 0, 1, 2


def _operand(x: np.ndarray, shape: tuple[int, ...], constant: bool, adjoint: bool) -> np.ndarray:
    values = np.asarray(x, dtype=np.int64)
    values = values[None] if constant else samples(values, shape)
    return np.swapaxes(values, -1, -2) if adjoint else values


def batch_matmul_s8(lhs: np.ndarray, rhs: np.ndarray, *, lhs_shape: tuple[int, ...], rhs_shape: tuple[int, ...],
                    lhs_constant: bool = False, rhs_constant: bool = False, adj_x: bool = False, adj_y: bool = False,
                    lhs_offset: int, rhs_offset: int, output_offset: int, out_mult: int, out_shift: int,
                    rounding: str = "double") -> np.ndarray:
    """BATCH_MATMUL of each sample: ``(lhs + lhs_offset) @ (rhs + rhs_offset)`` in int32,
    requantized, plus ``output_offset``, saturated. A constant operand is shared by every sample."""
    a = _operand(lhs, lhs_shape, lhs_constant, adj_x) + int(lhs_offset)
    b = _operand(rhs, rhs_shape, rhs_constant, adj_y) + int(rhs_offset)
    acc = wrap_int32(np.matmul(a, b))
    return saturate(multiply_by_quantized_multiplier(acc, out_mult, out_shift, rounding) + int(output_offset),
                    -128, 127)


class BatchMatMul(OpDef):
    kind = "batch_matmul"
    reference = staticmethod(batch_matmul_s8)
    attrs = (Attr("adj_x", lambda v: None, required=False, default=False),
             Attr("adj_y", lambda v: None, required=False, default=False))
    arity = (2, 2)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(BATCH_MATMUL, "BATCH_MATMUL", 4),)
    constant_operands = True
    tflite_data_inputs = 2

    def _matrices(self, graph: Graph, op: Op):
        a, b = (tuple(graph.tensor(n).shape) for n in op.inputs)
        if len(a) < 2 or len(b) < 2:
            raise op_error(op, f"operands {a} and {b} must have at least two axes")
        if op.attrs.get("adj_x"):
            a = a[:-2] + (a[-1], a[-2])
        if op.attrs.get("adj_y"):
            b = b[:-2] + (b[-1], b[-2])
        return a, b

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        a, b = self._matrices(graph, op)
        if a[-1] != b[-2]:
            raise op_error(op, f"cannot multiply {a[-2:]} by {b[-2:]} (after the adjoint flags)")
        try:
            batch = tuple(int(d) for d in np.broadcast_shapes(a[:-2], b[:-2]))
        except ValueError:
            raise op_error(op, f"batch axes {a[:-2]} and {b[:-2]} do not broadcast") from None
        return batch + (a[-2], b[-1])

    def macs(self, graph: Graph, op: Op) -> int:
        a, _ = self._matrices(graph, op)
        return int(np.prod(graph.tensor(op.outputs[0]).shape)) * a[-1]

    def check_quantized(self, graph: Graph, op: Op) -> None:
        activation_tensor_check(op, graph.tensor(op.inputs[1]))

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        a, b, y = (graph.tensor(n) for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        # TFLite: lhs_scale * rhs_scale / output_scale, float32 operands.
        mult, shift = checked_multiplier(op, float(np.float32(a.scale) * np.float32(b.scale) / np.float32(y.scale)),
                                         "output")
        return {"lhs_shape": tuple(a.shape), "rhs_shape": tuple(b.shape), "lhs_constant": a.is_constant,
                "rhs_constant": b.is_constant, "adj_x": bool(op.attrs.get("adj_x")),
                "adj_y": bool(op.attrs.get("adj_y")), "lhs_offset": -a.zero_point, "rhs_offset": -b.zero_point,
                "output_offset": y.zero_point, "out_mult": mult, "out_shift": shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return batch_matmul_s8(args[0], args[1], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        a, b = (graph.tensor(n) for n in op.inputs)
        x = _operand(args[0], a.shape, a.is_constant, bool(op.attrs.get("adj_x")))
        w = _operand(args[1], b.shape, b.is_constant, bool(op.attrs.get("adj_y")))
        return np.matmul(x.astype(np.float64), w.astype(np.float64)).astype(np.float32)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"(BATCH_MATMUL) has {len(reader.inputs)} inputs, expected 2")
        return {"adj_x": bool(reader.option(ADJ_X_SLOT, "<?", False)),
                "adj_y": bool(reader.option(ADJ_Y_SLOT, "<?", False))}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(BATCH_MATMUL_OPTIONS, [(ADJ_X_SLOT, "bool", bool(op.attrs.get("adj_x"))),
                                                   (ADJ_Y_SLOT, "bool", bool(op.attrs.get("adj_y"))),
                                                   (ASYMMETRIC_SLOT, "bool", False)])

    def build(self, builder, lhs, rhs, name, *, adj_x=False, adj_y=False, quant=None) -> str:
        """``lhs @ rhs`` (adjoint flags transpose the last two axes of an operand)."""
        return builder.op(self.kind, name, [lhs, rhs], {"adj_x": bool(adj_x), "adj_y": bool(adj_y)}, quant)


OP = BatchMatMul()
