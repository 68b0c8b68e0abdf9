"""What CONV_2D and DEPTHWISE_CONV_2D share: a window of int8 weights slid over an NHWC input with
stride, dilation and SAME / VALID padding, a bias, per-channel requantization and a fused
activation; and their options table, which differs only in where each field sits."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._shared import check_weights_quantized, clamp_activation, explicit_padding, requant_params
from edge_deploy.ops.base import ACTIVATION, DILATION, PADDING, STRIDE, OpDef


class WindowedWeightsOp(OpDef):
    """A convolution whose subclass names its weight layout (``weight_axis``: the output-channel
    axis), its int8 ``reference`` and ``float_function`` (both ``(x, w, bias, **window)``), how
    many MACs one output element takes (:meth:`taps`), and its .tflite options: the table number
    ``tflite_options`` and the ``option_slots`` of padding, stride, dilation and activation."""

    attrs = (STRIDE, DILATION, PADDING, ACTIVATION)
    arity = (2, 3)
    rounding_sensitive = True
    tflite_data_inputs = 3
    tflite_options: int
    option_slots: dict[str, int]  # padding, stride_w, stride_h, activation, dilation_w, dilation_h
    float_function: Callable[..., np.ndarray]

    def taps(self, w_shape: tuple[int, ...]) -> int:
        """MACs per output element."""
        raise NotImplementedError

    def macs(self, graph: Graph, op: Op) -> int:
        return math.prod(graph.tensor(op.outputs[0]).shape) * self.taps(graph.tensor(op.inputs[1]).shape)

    def check_quantized(self, graph: Graph, op: Op) -> None:
        check_weights_quantized(graph, op)

    def _window(self, graph: Graph, op: Op, filter_hw) -> dict[str, Any]:
        return {"stride": tuple(op.attrs["stride"]), "dilation": tuple(op.attrs["dilation"]),
                "padding": explicit_padding(graph, op, tuple(filter_hw), op.attrs["dilation"])}

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        w = graph.tensor(op.inputs[1]).shape
        return {**requant_params(graph, op, self.weight_axis), **self._window(graph, op, w[1:3])}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return self.reference(args[0], args[1], args[2] if len(args) > 2 else None, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        out = self.float_function(args[0], args[1], args[2] if len(args) > 2 else None,
                                  **self._window(graph, op, args[1].shape[1:3]))
        return clamp_activation(out, op.attrs["activation"])

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        s = self.option_slots
        return {"stride": (reader.option(s["stride_h"], "<i", 1), reader.option(s["stride_w"], "<i", 1)),
                "dilation": (reader.option(s["dilation_h"], "<i", 1), reader.option(s["dilation_w"], "<i", 1)),
                "padding": reader.padding(s["padding"]), "activation": reader.activation(s["activation"])}

    def tflite_fields(self, op: Op) -> list[tuple[int, str, Any]]:
        """The options table's fields as ``(slot, kind, value)``."""
        s, a = self.option_slots, op.attrs
        return [(s["padding"], "padding", a["padding"]), (s["stride_w"], "i32", a["stride"][1]),
                (s["stride_h"], "i32", a["stride"][0]), (s["activation"], "activation", a["activation"]),
                (s["dilation_w"], "i32", a["dilation"][1]), (s["dilation_h"], "i32", a["dilation"][0])]

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(self.tflite_options, sorted(self.tflite_fields(op), key=lambda field: field[0]))

    def window_attrs(self, builder, x, weights, stride, padding, dilation, activation) -> dict[str, Any]:
        """The attributes :meth:`build` gives the op (a subclass adds its own)."""
        return {"stride": tuple(stride), "dilation": tuple(dilation), "padding": padding, "activation": activation}

    def build(self, builder, x, name, weights, bias=None, *, stride=(1, 1), padding="valid", dilation=(1, 1),
              activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """The op on ``x`` with ``weights`` in the op's layout (float, or int8 with ``w_quant``)."""
        ins = [x] + builder.weights(name, weights, bias, w_quant, b_quant)
        return builder.op(self.kind, name, ins, self.window_attrs(builder, x, weights, stride, padding, dilation,
                                                                  activation), quant)
