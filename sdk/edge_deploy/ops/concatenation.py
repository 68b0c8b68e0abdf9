"""CONCATENATION (and PACK): int8 tensors joined along ``axis``, bytes copied, one quantization
for all. PACK is a concatenation along a new axis (``new_axis``: the inputs lack it). C API:
``arm_concatenation_s8_y`` (once per input)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant, same_quant_check, samples
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, activation_tensor_check, op_error

CONCATENATION, PACK = 2, 83
CONCATENATION_OPTIONS, PACK_OPTIONS = 10, 59
AXIS_SLOT, ACTIVATION_SLOT = 0, 1  # ConcatenationOptions
VALUES_COUNT_SLOT, PACK_AXIS_SLOT = 0, 1  # PackOptions


def concatenation_s8(*xs: np.ndarray, in_shapes: tuple[tuple[int, ...], ...], axis: int,
                     new_axis: bool = False) -> np.ndarray:
    """CONCATENATION of the batches ``xs`` (each sample shaped ``in_shapes[i]``) along ``axis``
    of the output; with ``new_axis`` (PACK) each input gets that axis first, of size 1."""
    parts = [samples(x, shape) for x, shape in zip(xs, in_shapes)]
    if new_axis:
        parts = [np.expand_dims(p, axis + 1) for p in parts]
    return np.concatenate(parts, axis=axis + 1)


def _axis_check(value: Any) -> str | None:
    return None if isinstance(value, (int, np.integer)) else f"must be an integer, got {value!r}"


class Concatenation(OpDef):
    kind = "concatenation"
    aten_targets = ("cat",)
    reference = staticmethod(concatenation_s8)
    attrs = (Attr("axis", _axis_check), Attr("new_axis", lambda v: None, required=False, default=False))
    arity = (1, 64)
    tflite_codes = (TfliteCode(CONCATENATION, "CONCATENATION", 3), TfliteCode(PACK, "PACK", 2))
    constant_operands = True
    tflite_data_inputs = 64

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        shapes = [graph.tensor(n).shape for n in op.inputs]
        new_axis = bool(op.attrs.get("new_axis", False))
        if new_axis:
            if len(set(shapes)) != 1:
                raise op_error(op, f"PACK inputs must share one shape, got {shapes}")
            rank = len(shapes[0]) + 1
        else:
            rank = len(shapes[0])
        axis = int(op.attrs["axis"])
        if not 0 <= axis < rank:
            raise op_error(op, f"axis {axis} is out of range for rank {rank}")
        if new_axis:
            return tuple(shapes[0][:axis]) + (len(shapes),) + tuple(shapes[0][axis:])
        for s in shapes:
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
                raise op_error(op, f"inputs {shapes} differ outside axis {axis}")
        return tuple(shapes[0][:axis]) + (sum(s[axis] for s in shapes),) + tuple(shapes[0][axis + 1:])

    def check_activations(self, graph: Graph, op: Op) -> None:
        for name in list(op.inputs) + list(op.outputs):
            activation_tensor_check(op, graph.tensor(name))
        same_quant_check(graph, op, list(op.inputs))

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {"in_shapes": tuple(tuple(graph.tensor(n).shape) for n in op.inputs), "axis": int(op.attrs["axis"]),
                "new_axis": bool(op.attrs.get("new_axis", False))}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return concatenation_s8(*args, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return concatenation_s8(*args, **self.kernel_params(graph, op))

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if code == PACK:
            rank = len(reader.shape(0)) + 1
            axis = int(reader.option(PACK_AXIS_SLOT, "<i", 0))
            if not -rank <= axis < rank:
                raise reader.error(f"(PACK) has axis {axis} for rank {rank}")
            return {"axis": axis % rank, "new_axis": True}
        if reader.activation(ACTIVATION_SLOT) != "none":
            raise reader.error("(CONCATENATION) has a fused activation, which int8 TFLite does not run")
        rank = len(reader.shape(0))
        axis = int(reader.option(AXIS_SLOT, "<i", 0))
        if not -rank <= axis < rank:
            raise reader.error(f"(CONCATENATION) has axis {axis} for rank {rank}")
        return {"axis": axis % rank, "new_axis": False}

    def tflite_code(self, op: Op):
        return self.tflite_codes[1 if op.attrs.get("new_axis") else 0]

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        if op.attrs.get("new_axis"):
            return writer.table(PACK_OPTIONS, [(VALUES_COUNT_SLOT, "i32", len(op.inputs)),
                                               (PACK_AXIS_SLOT, "i32", int(op.attrs["axis"]))])
        return writer.table(CONCATENATION_OPTIONS, [(AXIS_SLOT, "i32", int(op.attrs["axis"])),
                                                    (ACTIVATION_SLOT, "activation", "none")])

    def lower_aten(self, lowering, node) -> Any:
        """``aten.cat`` (tensors, dim): the dimension moves to its NHWC axis."""
        parts = [lowering.value_of(node, t) for t in node.args[0]]
        rank = len(parts[0].torch_shape)
        axis = lowering.ir_axis(int(lowering.arg(node, "dim", 0)), rank)
        out = lowering.builder.concatenation([p.name for p in parts], node.name, axis=axis)
        order = None
        if any(p.column_order is not None for p in parts):  # flattened feature maps side by side
            if rank != 2 or axis != 1:
                raise lowering.error(f"{lowering.label(node)}: flattened tensors can only be joined along the features")
            widths = np.cumsum([0] + [p.torch_shape[1] for p in parts])
            order = np.concatenate([start + (np.arange(p.torch_shape[1]) if p.column_order is None else p.column_order)
                                    for start, p in zip(widths, parts)])
        return lowering.result(node, out, order)

    def build(self, builder, inputs, name, *, axis, new_axis=False, quant=None) -> str:
        """CONCATENATION of ``inputs`` along ``axis`` (PACK with ``new_axis``)."""
        return builder.op(self.kind, name, list(inputs), {"axis": int(axis), "new_axis": bool(new_axis)}, quant)


OP = Concatenation()
