"""RESHAPE: the same bytes under a new shape (one -1 allowed). No code runs: the output is a view
of the input's memory, and it keeps the input's quantization. TFLite's SQUEEZE and EXPAND_DIMS
are reshapes too (their output shape is in the file), read into this op and written as RESHAPE."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

RESHAPE, SQUEEZE, EXPAND_DIMS = 22, 43, 70
RESHAPE_OPTIONS = 17
NEW_SHAPE_SLOT = 0


def _shape_check(value: Any) -> str | None:
    try:
        ok = all(int(d) == d and (d >= 0 or d == -1) for d in value)
    except TypeError:
        ok = False
    return None if ok else f"must be a list of sizes (one -1 allowed), got {value!r}"


class Reshape(OpDef):
    kind = "reshape"
    attrs = (Attr("shape", _shape_check),)
    view = True
    tflite_codes = (TfliteCode(RESHAPE, "RESHAPE", 1), TfliteCode(SQUEEZE, "SQUEEZE", 1),
                    TfliteCode(EXPAND_DIMS, "EXPAND_DIMS", 1))

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        shape = list(op.attrs["shape"])
        size = int(np.prod(x))
        if shape.count(-1) > 1:
            raise op_error(op, f"new shape {shape} has more than one -1")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            if known == 0 or size % known:
                raise op_error(op, f"cannot reshape {x} to {shape}")
            shape[shape.index(-1)] = size // known
        if int(np.prod(shape)) != size:
            raise op_error(op, f"cannot reshape {x} ({size} elements) to {shape}")
        return tuple(shape)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {"shape": tuple(graph.tensor(op.outputs[0]).shape)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return args[0]

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return args[0]

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        x = graph.tensor(op.inputs[0])
        return QuantParams(x.quant.scale.copy(), x.quant.zero_point.copy())

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        return {"shape": None}  # set from the output tensor by tflite_finish

    def tflite_finish(self, graph: Graph, op: Op) -> None:
        op.attrs["shape"] = tuple(graph.tensor(op.outputs[0]).shape)

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(RESHAPE_OPTIONS, [(NEW_SHAPE_SLOT, "i32[]", op.attrs["shape"])])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [("shape", np.array(graph.tensor(op.outputs[0]).shape, dtype=np.int32))]

    def build(self, builder, x, name, shape, quant=None) -> str:
        """RESHAPE ``x`` to ``shape`` (one -1 allowed; stored resolved)."""
        out = builder.op(self.kind, name, [x], {"shape": tuple(shape)}, quant)
        builder.graph.ops[-1].attrs["shape"] = tuple(builder.graph.tensors[out].shape)
        return out


OP = Reshape()
