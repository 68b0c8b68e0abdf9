"""What the data-movement ops share (TRANSPOSE, CONCATENATION, SLICE): they copy int8 bytes
without arithmetic, so TFLite requires (and they keep) one quantization on every input and the
output, and their reference works on each sample of a batch apart (an axis may be the batch's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops.base import op_error


def _int_list(value: Any) -> list[int] | None:
    try:
        items = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    return items if all(float(a) == b for a, b in zip(value, items)) else None


def int_list_check(value: Any) -> str | None:
    """An Attr check: a list of integers."""
    return None if _int_list(value) is not None else f"must be a list of integers, got {value!r}"


def same_quant_check(graph: Graph, op: Op, names: list[str]) -> None:
    """Raise unless every tensor of ``names`` has the output's scale and zero point (TFLite's int8
    rule for ops that copy bytes)."""
    y = graph.tensor(op.outputs[0])
    for name in names:
        t = graph.tensor(name)
        if t.quant is None or t.quant.scale[0] != y.quant.scale[0] or t.zero_point != y.zero_point:
            raise op_error(op, f"input '{name}' (scale {t.scale:g}, zero point {t.zero_point}) and output "
                           f"'{y.name}' (scale {y.scale:g}, zero point {y.zero_point}) must share one quantization",
                           "TFLite copies int8 bytes here without rescaling; convert the model again")


def input_quant(graph: Graph, op: Op) -> QuantParams:
    """A copy of input 0's quantization (the output of an op that moves bytes)."""
    x = graph.tensor(op.inputs[0])
    return QuantParams(x.quant.scale.copy(), x.quant.zero_point.copy())


def samples(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A batch stacked on axis 0 as ``(N, *shape)``."""
    return np.asarray(x).reshape((-1,) + tuple(int(d) for d in shape))


def resolve_axis(op: Op, axis: int, rank: int) -> int:
    """``axis`` in ``[-rank, rank)`` as a non-negative axis; raises naming ``op`` otherwise."""
    if not -rank <= int(axis) < rank:
        raise op_error(op, f"axis {axis} is out of range for rank {rank}")
    return int(axis) % rank
