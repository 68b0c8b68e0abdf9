"""TRANSPOSE_CONV: the transpose (gradient) of a convolution, upsampling a decoder's feature map:
each input pixel times the OHWI int8 weights is added into a ``stride``-spaced window of an int32
accumulator of the output's size, less TFLite's padding (computed from the output size as for a
convolution of the output), then bias, per-channel requantization and fused activation, as TFLite's
int8 TransposeConv. C: ``ed_transpose_conv_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._movement import samples
from edge_deploy.ops._shared import (check_bias, check_nhwc, check_weights_quantized, clamp_activation,
                                     requant_params, requantize)
from edge_deploy.ops.base import ACTIVATION, PADDING, STRIDE, Attr, OpDef, TfliteCode, op_error

TRANSPOSE_CONV = 67
TRANSPOSE_CONV_OPTIONS = 49
PADDING_SLOT, STRIDE_W_SLOT, STRIDE_H_SLOT, ACTIVATION_SLOT = 0, 1, 2, 3


def transpose_conv_padding(out_hw, filter_hw, stride, mode: str) -> tuple[int, int]:
    """``(top, left)``: TFLite's padding of a transpose convolution, that of a convolution of the
    output (SAME: half the total, VALID: 0), which the scatter subtracts."""
    pads = []
    for size, k, s in zip(out_hw, filter_hw, stride):
        conv_out = -(-size // s) if mode == "same" else (size - k) // s + 1
        pads.append(max((conv_out - 1) * s + k - size, 0) // 2)
    return pads[0], pads[1]


def transpose_conv_s8(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *, in_shape: tuple[int, ...],
                      out_shape: tuple[int, ...], stride: tuple[int, int], pad: tuple[int, int], input_offset: int,
                      output_offset: int, out_mult, out_shift, act_min: int = -128, act_max: int = 127,
                      padding=None, rounding: str = "double") -> np.ndarray:
    """TRANSPOSE_CONV of each NHWC sample (shaped ``in_shape``) into ``out_shape``: the int32
    scatter of ``(x + input_offset) * w`` (OHWI), bias, requantization per output channel."""
    images = samples(x, in_shape).astype(np.int64).reshape((-1,) + tuple(in_shape[1:])) + int(input_offset)
    n, in_h, in_w, _ = images.shape
    out_c, k_h, k_w, _ = w.shape
    out_h, out_w = out_shape[1], out_shape[2]
    acc = np.zeros((n, out_h, out_w, out_c), dtype=np.int64)
    weights = w.astype(np.int64)
    for fy in range(k_h):
        for fx in range(k_w):
            tap = np.einsum("nhwi,oi->nhwo", images, weights[:, fy, fx, :])
            ys = np.arange(in_h) * stride[0] - pad[0] + fy
            xs = np.arange(in_w) * stride[1] - pad[1] + fx
            ok_y, ok_x = (ys >= 0) & (ys < out_h), (xs >= 0) & (xs < out_w)
            acc[:, ys[ok_y][:, None], xs[ok_x][None, :], :] += tap[:, ok_y][:, :, ok_x]
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)


def _shape_check(value: Any) -> str | None:
    try:
        ok = len(value) == 4 and all(int(v) == v and v >= 1 for v in value)
    except TypeError:
        ok = False
    return None if ok else f"must be an NHWC shape, got {value!r}"


class TransposeConv(OpDef):
    kind = "transpose_conv"
    reference = staticmethod(transpose_conv_s8)
    attrs = (STRIDE, PADDING, ACTIVATION, Attr("out_shape", _shape_check))
    arity = (2, 3)
    weight_axis = 0
    rounding_sensitive = True
    tflite_codes = (TfliteCode(TRANSPOSE_CONV, "TRANSPOSE_CONV", 4),)
    aten_targets = ("conv_transpose1d", "conv_transpose2d")
    tflite_data_inputs = 3

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        check_nhwc(op, x)
        out = tuple(int(v) for v in op.attrs["out_shape"])
        if len(w) != 4 or w[3] != x[3] or out[3] != w[0] or out[0] != x[0]:
            raise op_error(op, f"weights {w} (OHWI) do not map input {x} to output {out}")
        check_bias(graph, op, w[0])
        return out

    def macs(self, graph: Graph, op: Op) -> int:
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        return int(np.prod(x)) * w[0] * w[1] * w[2]

    def check_quantized(self, graph: Graph, op: Op) -> None:
        check_weights_quantized(graph, op)

    def geometry(self, graph: Graph, op: Op) -> dict[str, Any]:
        """Shapes, stride and TFLite's padding, for the int8 and the float computation."""
        w = graph.tensor(op.inputs[1]).shape
        out = tuple(int(v) for v in op.attrs["out_shape"])
        top, left = transpose_conv_padding(out[1:3], w[1:3], op.attrs["stride"], op.attrs["padding"])
        return {"in_shape": tuple(graph.tensor(op.inputs[0]).shape), "out_shape": out,
                "stride": tuple(int(s) for s in op.attrs["stride"]), "pad": (top, left),
                "padding": (top, top, left, left)}

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {**requant_params(graph, op, self.weight_axis), **self.geometry(graph, op)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return transpose_conv_s8(args[0], args[1], args[2] if len(args) > 2 else None, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        params = self.geometry(graph, op)
        x = samples(args[0], params["in_shape"]).reshape((-1,) + params["in_shape"][1:]).astype(np.float64)
        w = args[1].astype(np.float64)
        out_h, out_w = params["out_shape"][1:3]
        acc = np.zeros((x.shape[0], out_h, out_w, w.shape[0]))
        for fy in range(w.shape[1]):
            for fx in range(w.shape[2]):
                for iy in range(x.shape[1]):
                    for ix in range(x.shape[2]):
                        oy, ox = iy * params["stride"][0] - params["pad"][0] + fy, ix * params["stride"][1] - params["pad"][1] + fx
                        if 0 <= oy < out_h and 0 <= ox < out_w:
                            acc[:, oy, ox] += x[:, iy, ix] @ w[:, fy, fx, :].T
        if len(args) > 2 and args[2] is not None:
            acc = acc + args[2]
        return clamp_activation(acc, op.attrs["activation"])

    # .tflite: inputs (output_shape, weights, input, bias)
    def tflite_data_positions(self, code: int, count: int) -> list[int]:
        return [2, 1, 3] if count > 3 else [2, 1]

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) not in (3, 4):
            raise reader.error(f"(TRANSPOSE_CONV) has {len(reader.inputs)} inputs, expected 3 or 4")
        out_shape = tuple(int(v) for v in reader.constant(0).reshape(-1))
        if len(out_shape) != 4:
            raise reader.error(f"(TRANSPOSE_CONV) has output shape {out_shape}; expected NHWC")
        return {"stride": (int(reader.option(STRIDE_H_SLOT, "<i", 1)), int(reader.option(STRIDE_W_SLOT, "<i", 1))),
                "padding": reader.padding(PADDING_SLOT), "activation": reader.activation(ACTIVATION_SLOT),
                "out_shape": out_shape}

    def tflite_input_order(self, data: list[int], extra: list[int]) -> list[int]:
        return [extra[0], data[1], data[0]] + data[2:]

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        return [("output_shape", np.array(op.attrs["out_shape"], dtype=np.int32))]

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(TRANSPOSE_CONV_OPTIONS, [(PADDING_SLOT, "padding", op.attrs["padding"]),
                                                     (STRIDE_W_SLOT, "i32", int(op.attrs["stride"][1])),
                                                     (STRIDE_H_SLOT, "i32", int(op.attrs["stride"][0])),
                                                     (ACTIVATION_SLOT, "activation", op.attrs["activation"])])

    def lower_aten(self, lowering, node) -> Any:
        """``aten.conv_transpose1d / 2d`` (input, weight, bias, stride, padding, output_padding,
        groups, dilation), through :func:`lower_transposed`."""
        src = lowering.tensor(node, 0)
        out = lower_transposed(lowering, lowering.label(node), node.name, src.name, len(src.torch_shape),
                               lowering.weight(node, 1), lowering.weight(node, 2), lowering.arg(node, "stride", 1),
                               lowering.arg(node, "padding", 0), lowering.arg(node, "output_padding", 0),
                               lowering.arg(node, "dilation", 1), lowering.arg(node, "groups", 1))
        return lowering.result(node, out)

    def build(self, builder, x, name, weights, bias=None, *, out_shape, stride=(1, 1), padding="same",
              activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """TRANSPOSE_CONV of ``x`` with OHWI ``weights`` into ``out_shape``."""
        ins = [x] + builder.weights(name, weights, bias, w_quant, b_quant)
        return builder.op(self.kind, name, ins, {"stride": tuple(stride), "padding": padding,
                                                 "activation": activation, "out_shape": tuple(out_shape)}, quant)


def lower_transposed(lowering, label: str, name: str, x: str, rank: int, weight: np.ndarray, bias, stride, padding,
                     output_padding, dilation, groups) -> str:
    """A PyTorch transposed convolution (``(in, out, [kh,] kw)`` float64 ``weight``) of IR tensor
    ``x`` whose PyTorch rank is ``rank``: PyTorch crops ``padding`` from the top and left of the
    full scatter and sizes the output ``(H - 1) * stride - 2 * padding + k + output_padding``.
    A TRANSPOSE_CONV into that size whose SAME or VALID padding crops the same (TFLite computes
    it from the output size), else a VALID one of the full size then a SLICE of the window."""
    if int(groups) != 1 or lowering.any_not(dilation, 1):
        raise lowering.error(f"{label}: only transposed convolutions with groups 1 and dilation 1 can be lowered")
    if rank == 3:
        weight = weight[:, :, None, :]
    stride, pads = lowering.pair(stride, rank), lowering.pair(padding, rank, height=0)
    extra = lowering.pair(output_padding, rank, height=0)
    builder = lowering.builder
    n, in_h, in_w, _ = builder.graph.tensor(x).shape
    filter_hw = weight.shape[2:4]
    w_ohwi = weight.transpose(1, 2, 3, 0)
    full = [(size - 1) * s + k for size, s, k in zip((in_h, in_w), stride, filter_hw)]
    out_hw = [f - 2 * p + e for f, p, e in zip(full, pads, extra)]
    out_shape = (n, out_hw[0], out_hw[1], w_ohwi.shape[0])
    for mode in ("valid", "same"):
        if transpose_conv_padding(out_hw, filter_hw, stride, mode) == pads:
            return builder.transpose_conv(x, name, w_ohwi, bias, out_shape=out_shape, stride=stride, padding=mode)
    if any(e > p for e, p in zip(extra, pads)):
        raise lowering.error(f"{label}: padding {pads} with output_padding {extra} cannot be lowered",
                             "use output_padding no larger than padding")
    scattered = builder.transpose_conv(x, f"{name}/full", w_ohwi, bias, out_shape=(n, *full, w_ohwi.shape[0]),
                                       stride=stride, padding="valid")
    return builder.slice(scattered, name, (0, pads[0], pads[1], 0),
                         (n, pads[0] + out_hw[0], pads[1] + out_hw[1], w_ohwi.shape[0]))


OP = TransposeConv()
