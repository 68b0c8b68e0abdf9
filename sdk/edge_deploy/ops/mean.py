"""MEAN: the average over some axes of an int8 tensor (any rank; Keras' GlobalAveragePooling),
with TFLite's integer arithmetic. CMSIS-NN has no MEAN: the firmware runs ``ed_mean_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, saturate, wrap_int32
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

MEAN = 40
REDUCER_OPTIONS = 27
KEEP_DIMS_SLOT = 0


def _axis_check(value: Any) -> str | None:
    try:
        ok = all(int(a) == a for a in value)
    except TypeError:
        ok = False
    return None if ok else f"must be a list of axes, got {value!r}"


def mean_s8(
    x: np.ndarray,
    *,
    in_shape: tuple[int, ...],
    axis: tuple[int, ...],
    input_offset: int,
    output_offset: int,
    out_mult: int,
    out_shift: int,
    rounding: str = "double",
) -> np.ndarray:
    """MEAN, int8, over the axes ``axis`` of a tensor shaped ``in_shape`` (any rank).

    ``x`` is a batch of such tensors stacked on their first axis (``(N * in_shape[0], ...)``);
    each one is reduced on its own, so reducing axis 0 never mixes samples. Returns
    ``(N, *in_shape with the reduced axes set to 1)`` int8 (the caller drops them for
    ``keep_dims=False``).

    The arithmetic of TFLite's ``QuantizedMeanOrSum`` (what ai-edge-litert 2.3 runs for every
    int8 MEAN): the int32 sum of ``x + input_offset`` over the reduced elements, requantized once
    with ``(out_mult, out_shift)``, the ``input_scale / output_scale`` multiplier with the
    element count folded in as integers (see :func:`mean_multiplier`), plus ``output_offset``,
    saturated to int8.
    """
    rows = x.astype(np.int64).reshape((-1,) + tuple(in_shape))
    acc = (rows + int(input_offset)).sum(axis=tuple(a + 1 for a in axis), keepdims=True)
    acc = multiply_by_quantized_multiplier(wrap_int32(acc), out_mult, out_shift, rounding)
    return saturate(acc + int(output_offset), -128, 127)


def mean_multiplier(mult: int, shift: int, count: int) -> tuple[int, int]:
    """Fold a division by ``count`` into TFLite's ``(mult, shift)`` of ``input_scale / output_scale``.

    As TFLite's int8 MEAN does it, in integers: with ``k = floor(log2(count))`` capped at 32 and at
    ``31 + shift`` (so the new shift stays >= -31), the multiplier becomes
    ``floor(mult * 2**k / count)`` and the shift ``shift - k``. This is not the multiplier that
    :func:`~edge_deploy.numerics.fixedpoint.quantize_multiplier` gives for the real
    ``input_scale / (output_scale * count)``; the two differ in the low bits, and so do outputs.
    """
    if count <= 0:
        raise ValueError(f"mean_multiplier: the element count must be positive, got {count}")
    k = max(0, min(count.bit_length() - 1, 32, 31 + int(shift)))  # shift >= -31 from quantize_multiplier
    return int((int(mult) << k) // count), int(shift) - k


def mean_axes(graph: Graph, op: Op) -> tuple[int, ...]:
    """A MEAN op's reduced axes, as TFLite resolves them: negatives wrapped, duplicates dropped, sorted."""
    rank = len(graph.tensor(op.inputs[0]).shape)
    return tuple(sorted({int(ax) % rank for ax in op.attrs["axis"]}))


class Mean(OpDef):
    kind = "mean"
    reference = staticmethod(mean_s8)
    attrs = (Attr("axis", _axis_check), Attr("keep_dims", lambda v: None, required=False, default=False))
    rounding_sensitive = True
    tflite_codes = (TfliteCode(MEAN, "MEAN", 2),)
    torch_modules = ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d")
    aten_targets = ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "mean")

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        axis = op.attrs["axis"]
        if not len(x) or not len(axis) or any(not -len(x) <= ax < len(x) for ax in axis):
            raise op_error(op, f"MEAN axis {axis} is empty or out of range for input {x}")
        axes = mean_axes(graph, op)
        if op.attrs.get("keep_dims", False):
            return tuple(1 if i in axes else d for i, d in enumerate(x))
        return tuple(d for i, d in enumerate(x) if i not in axes)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        axes = mean_axes(graph, op)
        count = int(np.prod([x.shape[ax] for ax in axes]))
        mult, shift = mean_multiplier(*quantize_multiplier(float(np.float32(x.scale)) / float(np.float32(y.scale))),
                                      count)
        return {"in_shape": tuple(x.shape), "axis": axes, "input_offset": -x.zero_point,
                "output_offset": y.zero_point, "out_mult": mult, "out_shift": shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return mean_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        in_shape = tuple(graph.tensor(op.inputs[0]).shape)
        rows = args[0].reshape((-1,) + in_shape)  # one sample per row: axis 0 never mixes samples
        return rows.mean(axis=tuple(ax + 1 for ax in mean_axes(graph, op)), keepdims=True).astype(np.float32)

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) < 2:
            raise reader.error("(MEAN) has no axis input")
        return {"axis": tuple(int(v) for v in reader.constant(1).reshape(-1)),
                "keep_dims": bool(reader.option(KEEP_DIMS_SLOT, "<?", False))}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(REDUCER_OPTIONS, [(KEEP_DIMS_SLOT, "bool", bool(op.attrs.get("keep_dims", False)))])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [("axis", np.array(op.attrs["axis"], dtype=np.int32))]

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.AdaptiveAvgPool1d / 2d to size 1: a global mean over H and W, dimensions kept."""
        src = lowering.source(node)
        size = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,)
        if any(s != 1 for s in size):
            raise lowering.error(f"{lowering.label(node, module)}: only adaptive pooling to size 1 (a global mean) "
                                 "can be lowered")
        out = lowering.builder.mean(src.name, node.name, axis=(1, 2), keep_dims=True)
        return lowering.value(out, len(src.torch_shape))

    def lower_aten(self, lowering, node) -> Any:
        """``aten.adaptive_avg_pool1d / 2d`` to size 1, or ``aten.mean.dim`` over the spatial
        dimensions: a global mean over H and W (dimensions kept unless ``keepdim`` is false)."""
        src = lowering.tensor(node, 0)
        rank = len(src.torch_shape)
        if node.target.__name__.startswith("mean"):
            dims = {int(d) % rank for d in (lowering.arg(node, "dim", None) or range(rank))}
            keep = bool(lowering.arg(node, "keepdim", False))
            ok = rank in (3, 4) and dims == set(range(2, rank))
        else:
            size = lowering.arg(node, "output_size", None)
            ok, keep = all(int(s) == 1 for s in (size if isinstance(size, (tuple, list)) else [size])), True
        if not ok:
            raise lowering.error(f"{lowering.label(node)}: only a global mean over the spatial dimensions "
                                 "(adaptive pooling to size 1) can be lowered")
        return lowering.result(node, lowering.builder.mean(src.name, node.name, axis=(1, 2), keep_dims=keep))

    def build(self, builder, x, name, *, axis=(1, 2), keep_dims=False, quant=None) -> str:
        """MEAN of ``x`` over ``axis`` (H and W of an NHWC tensor by default)."""
        return builder.op(self.kind, name, [x], {"axis": tuple(axis), "keep_dims": bool(keep_dims)}, quant)


OP = Mean()
