"""SLICE: a strided window of an int8 tensor (``begin``, ``end``, ``strides`` per axis, strides
positive), with the ``shrink`` axes (size 1) dropped from the output; bytes copied, quantization
kept. TFLite's SLICE, STRIDED_SLICE, and each output of SPLIT, SPLIT_V and UNPACK are read into
it (an operator with several outputs becomes one slice per output) and written back as
STRIDED_SLICE. C: ``ed_strided_slice_s8`` (CMSIS-NN has no slice)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant, int_list_check, same_quant_check, samples
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK = 45, 65, 49, 102, 88
STRIDED_SLICE_OPTIONS = 32
BEGIN_MASK, END_MASK, ELLIPSIS_MASK, NEW_AXIS_MASK, SHRINK_AXIS_MASK, OFFSET = 0, 1, 2, 3, 4, 5
NUM_SPLITS_SLOT = 0  # SplitOptions, SplitVOptions
UNPACK_NUM_SLOT, UNPACK_AXIS_SLOT = 0, 1


def slice_s8(x: np.ndarray, *, in_shape: tuple[int, ...], begin: tuple[int, ...], end: tuple[int, ...],
             strides: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """SLICE of each sample (shaped ``in_shape``): ``x[begin:end:strides]`` per axis, reshaped to
    ``out_shape`` (the shrunk axes dropped)."""
    window = (slice(None),) + tuple(slice(b, e, s) for b, e, s in zip(begin, end, strides))
    return samples(x, in_shape)[window].reshape((-1,) + tuple(out_shape))


def sliced_shape(begin, end, strides) -> tuple[int, ...]:
    """Elements per axis of the window (before dropping shrunk axes)."""
    return tuple(max(0, -(-(int(e) - int(b)) // int(s))) for b, e, s in zip(begin, end, strides))


def _resolve(op_label, dims, begin, end, strides, begin_mask=0, end_mask=0, shrink_mask=0, offset=False):
    """TFLite's StridedSlice start / stop per axis (positive strides), as explicit attributes."""
    out_begin, out_end, shrink = [], [], []
    for axis, dim in enumerate(dims):
        stride = int(strides[axis])
        if stride <= 0:
            raise ValueError(f"{op_label} has stride {stride} on axis {axis}; only positive strides are supported")
        start = 0 if begin_mask >> axis & 1 else int(begin[axis])
        start = min(max(start + dim if start < 0 else start, 0), dim)
        if shrink_mask >> axis & 1:
            stop = start + 1
            shrink.append(axis)
        elif end_mask >> axis & 1:
            stop = dim
        else:
            stop = int(end[axis]) + (int(begin[axis]) if offset else 0)
            stop = min(max(stop + dim if stop < 0 else stop, 0), dim)
        out_begin.append(start)
        out_end.append(max(stop, start))
    return {"begin": tuple(out_begin), "end": tuple(out_end), "strides": tuple(int(s) for s in strides),
            "shrink": tuple(shrink)}


class Slice(OpDef):
    kind = "slice"
    reference = staticmethod(slice_s8)
    attrs = (Attr("begin", int_list_check), Attr("end", int_list_check), Attr("strides", int_list_check),
             Attr("shrink", int_list_check, required=False, default=()))
    tflite_codes = (TfliteCode(STRIDED_SLICE, "STRIDED_SLICE", 2), TfliteCode(SLICE, "SLICE", 2),
                    TfliteCode(SPLIT, "SPLIT", 2), TfliteCode(SPLIT_V, "SPLIT_V", 2), TfliteCode(UNPACK, "UNPACK", 2))

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        begin, end, strides = (op.attrs[k] for k in ("begin", "end", "strides"))
        shrink = set(int(a) for a in op.attrs.get("shrink", ()))
        if not len(begin) == len(end) == len(strides) == len(x):
            raise op_error(op, f"begin {begin}, end {end} and strides {strides} must have one entry per axis of {x}")
        if any(s < 1 for s in strides) or any(not 0 <= b < d or not b < e <= d for b, e, d in zip(begin, end, x)):
            raise op_error(op, f"window begin {tuple(begin)} end {tuple(end)} strides {tuple(strides)} does not fit "
                           f"input {x}")
        window = sliced_shape(begin, end, strides)
        if any(window[a] != 1 for a in shrink if a < len(window)) or any(not 0 <= a < len(x) for a in shrink):
            raise op_error(op, f"shrink axes {sorted(shrink)} must have one element in window {window}")
        return tuple(d for a, d in enumerate(window) if a not in shrink)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        same_quant_check(graph, op, op.inputs[:1])

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {"in_shape": tuple(graph.tensor(op.inputs[0]).shape),
                **{k: tuple(int(v) for v in op.attrs[k]) for k in ("begin", "end", "strides")},
                "out_shape": tuple(graph.tensor(op.outputs[0]).shape)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return slice_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return slice_s8(args[0], **self.kernel_params(graph, op))

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    # -- .tflite: five operators read into one op ----------------------------------------------

    def tflite_data_positions(self, code: int, count: int) -> list[int]:
        return [1] if code == SPLIT else [0]

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        return self.from_tflite_outputs(code, reader)[0]

    def from_tflite_outputs(self, code: int, reader) -> list[dict[str, Any]]:
        name = {c.code: c.name for c in self.tflite_codes}[code]
        label = f"{reader.label} ({name})"
        dims = reader.shape(1 if code == SPLIT else 0)
        rank = len(dims)
        try:
            if code == STRIDED_SLICE:
                if reader.option(ELLIPSIS_MASK, "<i", 0) or reader.option(NEW_AXIS_MASK, "<i", 0):
                    raise ValueError(f"{label} uses an ellipsis or new-axis mask, which is not supported")
                begin, end, strides = (reader.constant(i).reshape(-1) for i in (1, 2, 3))
                if not len(begin) == len(end) == len(strides) == rank:
                    raise ValueError(f"{label} has begin/end/strides of lengths {len(begin)}/{len(end)}/"
                                     f"{len(strides)} for rank {rank}")
                return [_resolve(label, dims, begin, end, strides, reader.option(BEGIN_MASK, "<i", 0),
                                 reader.option(END_MASK, "<i", 0), reader.option(SHRINK_AXIS_MASK, "<i", 0),
                                 bool(reader.option(OFFSET, "<?", False)))]
            if code == SLICE:
                begin, size = reader.constant(1).reshape(-1), reader.constant(2).reshape(-1)
                if not len(begin) == len(size) == rank:
                    raise ValueError(f"{label} has begin/size of lengths {len(begin)}/{len(size)} for rank {rank}")
                end = [d if int(n) == -1 else int(b) + int(n) for b, n, d in zip(begin, size, dims)]
                return [_resolve(label, dims, begin, end, [1] * rank)]
            if code == UNPACK:
                axis = int(reader.option(UNPACK_AXIS_SLOT, "<i", 0))
                axis = axis + rank if axis < 0 else axis
                if not 0 <= axis < rank:
                    raise ValueError(f"{label} has axis {axis} for rank {rank}")
                return [_resolve(label, dims, [k if a == axis else 0 for a in range(rank)], [0] * rank, [1] * rank,
                                 end_mask=~(1 << axis), shrink_mask=1 << axis) for k in range(dims[axis])]
            axis = int(reader.constant(0 if code == SPLIT else 2).reshape(-1)[0])
            axis = axis + rank if axis < 0 else axis
            if not 0 <= axis < rank:
                raise ValueError(f"{label} has axis {axis} for rank {rank}")
            count = len(reader.outputs)
            if code == SPLIT:
                if count < 1 or dims[axis] % count:
                    raise ValueError(f"{label} cannot split {dims[axis]} elements into {count} equal parts")
                sizes = [dims[axis] // count] * count
            else:
                sizes = [int(v) for v in reader.constant(1).reshape(-1)]
                if sizes.count(-1) == 1:
                    sizes[sizes.index(-1)] = dims[axis] - (sum(sizes) + 1)
                if len(sizes) != count or sum(sizes) != dims[axis] or min(sizes) < 1:
                    raise ValueError(f"{label} splits {dims[axis]} elements into sizes {sizes} for {count} outputs")
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            return [_resolve(label, dims, [int(s) if a == axis else 0 for a in range(rank)],
                             [int(s) + n if a == axis else d for a, d in enumerate(dims)], [1] * rank)
                    for s, n in zip(starts, sizes)]
        except ValueError as exc:
            raise reader.error(str(exc).removeprefix(f"{reader.label} ")) from None

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        shrink = sum(1 << int(a) for a in op.attrs.get("shrink", ()))
        return writer.table(STRIDED_SLICE_OPTIONS, [(BEGIN_MASK, "i32", 0), (END_MASK, "i32", 0),
                                                    (ELLIPSIS_MASK, "i32", 0), (NEW_AXIS_MASK, "i32", 0),
                                                    (SHRINK_AXIS_MASK, "i32", shrink), (OFFSET, "bool", False)])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [(k, np.array(op.attrs[k], dtype=np.int32)) for k in ("begin", "end", "strides")]

    def build(self, builder, x, name, begin, end, strides=None, *, shrink=(), quant=None) -> str:
        """SLICE ``x[begin:end:strides]`` (strides default 1), dropping the ``shrink`` axes."""
        strides = tuple(strides) if strides is not None else (1,) * len(begin)
        return builder.op(self.kind, name, [x], {"begin": tuple(begin), "end": tuple(end), "strides": strides,
                                                 "shrink": tuple(shrink)}, quant)


OP = Slice()
