"""RESIZE_NEAREST_NEIGHBOR: an NHWC int8 image resized to ``size`` (height, width) by copying the
nearest input pixel, the source row and column of each output one as TFLite's reference computes
them in float32 (``align_corners``, ``half_pixel_centers``). C: ``ed_resize_nearest_s8`` with
those indices as tables (so it picks exactly the pixels the reference does)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._movement import input_quant, same_quant_check, samples
from edge_deploy.ops._shared import check_nhwc
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

RESIZE_NEAREST_NEIGHBOR = 97
RESIZE_NEAREST_NEIGHBOR_OPTIONS = 74
ALIGN_CORNERS_SLOT, HALF_PIXEL_CENTERS_SLOT = 0, 1


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """The input index of each output index along one axis (TFLite's GetNearestNeighbor: the
    scale and the products in float32, halves away from zero with align_corners, else floor)."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    picked = []
    for i in range(out_size):
        value = float((np.float32(i) + offset) * scale)
        index = int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1) if align_corners else math.floor(value)
        index = min(index, in_size - 1)
        picked.append(max(index, 0) if half_pixel_centers else index)
    return np.array(picked, dtype=np.int32)


def resize_nearest_s8(x: np.ndarray, *, in_shape: tuple[int, ...], rows: tuple[int, ...],
                      cols: tuple[int, ...]) -> np.ndarray:
    """RESIZE_NEAREST_NEIGHBOR of each NHWC sample: output pixel (i, j) is input pixel
    (rows[i], cols[j])."""
    images = samples(x, in_shape)
    return images[:, :, list(rows)][:, :, :, list(cols)]  # (N, 1, H, W, C)


def _size_check(value: Any) -> str | None:
    try:
        ok = len(value) == 2 and all(int(v) == v and v >= 1 for v in value)
    except TypeError:
        ok = False
    return None if ok else f"must be (height, width), two positive integers, got {value!r}"


class ResizeNearestNeighbor(OpDef):
    kind = "resize_nearest_neighbor"
    reference = staticmethod(resize_nearest_s8)
    attrs = (Attr("size", _size_check),
             Attr("align_corners", lambda v: None, required=False, default=False),
             Attr("half_pixel_centers", lambda v: None, required=False, default=False))
    tflite_codes = (TfliteCode(RESIZE_NEAREST_NEIGHBOR, "RESIZE_NEAREST_NEIGHBOR", 3),)

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        check_nhwc(op, x)
        if op.attrs.get("align_corners") and op.attrs.get("half_pixel_centers"):
            raise op_error(op, "align_corners and half_pixel_centers cannot both be set")
        h, w = (int(v) for v in op.attrs["size"])
        return (x[0], h, w, x[3])

    def check_quantized(self, graph: Graph, op: Op) -> None:
        same_quant_check(graph, op, op.inputs[:1])

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x = graph.tensor(op.inputs[0]).shape
        h, w = (int(v) for v in op.attrs["size"])
        corners, half = bool(op.attrs.get("align_corners")), bool(op.attrs.get("half_pixel_centers"))
        return {"in_shape": tuple(x), "rows": tuple(int(i) for i in nearest_indices(x[1], h, corners, half)),
                "cols": tuple(int(i) for i in nearest_indices(x[2], w, corners, half))}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return resize_nearest_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        return resize_nearest_s8(args[0], **self.kernel_params(graph, op))

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return input_quant(graph, op)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 2:
            raise reader.error(f"(RESIZE_NEAREST_NEIGHBOR) has {len(reader.inputs)} inputs, expected 2")
        size = [int(v) for v in reader.constant(1).reshape(-1)]
        if len(size) != 2 or min(size) < 1:
            raise reader.error(f"(RESIZE_NEAREST_NEIGHBOR) has size {size}; expected (height, width) >= 1")
        return {"size": tuple(size), "align_corners": bool(reader.option(ALIGN_CORNERS_SLOT, "<?", False)),
                "half_pixel_centers": bool(reader.option(HALF_PIXEL_CENTERS_SLOT, "<?", False))}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(RESIZE_NEAREST_NEIGHBOR_OPTIONS,
                            [(ALIGN_CORNERS_SLOT, "bool", bool(op.attrs.get("align_corners"))),
                             (HALF_PIXEL_CENTERS_SLOT, "bool", bool(op.attrs.get("half_pixel_centers")))])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [("size", np.array(op.attrs["size"], dtype=np.int32))]

    def build(self, builder, x, name, size, *, align_corners=False, half_pixel_centers=False, quant=None) -> str:
        """RESIZE_NEAREST_NEIGHBOR of ``x`` to ``size`` (height, width)."""
        return builder.op(self.kind, name, [x], {"size": tuple(int(v) for v in size),
                                                 "align_corners": bool(align_corners),
                                                 "half_pixel_centers": bool(half_pixel_centers)}, quant)


OP = ResizeNearestNeighbor()
