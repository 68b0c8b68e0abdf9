"""What MAX_POOL_2D and AVERAGE_POOL_2D share: window attributes, shape, parameters, the
``.tflite`` Pool2DOptions, the PyTorch lowering and the rule that the output keeps the input's
quantization. Each pool's own module adds its kind, code and reference."""

from __future__ import annotations

from typing import Any

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops._shared import explicit_padding, window_output_shape
from edge_deploy.ops.base import ACTIVATION, FILTER, PADDING, STRIDE, OpDef, fused_activation_range

POOL2D_OPTIONS = 5
PADDING_SLOT, STRIDE_W, STRIDE_H, FILTER_W, FILTER_H, ACTIVATION_SLOT = 0, 1, 2, 3, 4, 5


class Pool2d(OpDef):
    """A 2-D pooling op; subclasses set ``kind``, ``tflite_codes``, ``torch_modules`` and the
    references."""

    attrs = (FILTER, STRIDE, PADDING, ACTIVATION)

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        return window_output_shape(graph, op, tuple(op.attrs["filter"]), (1, 1), graph.tensor(op.inputs[0]).shape[-1])

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        act_min, act_max = fused_activation_range(op, graph.tensor(op.outputs[0]))
        return {"filter_hw": tuple(op.attrs["filter"]), "stride": tuple(op.attrs["stride"]),
                "padding": explicit_padding(graph, op, op.attrs["filter"], (1, 1)),
                "act_min": act_min, "act_max": act_max}

    def float_padding(self, graph: Graph, op: Op) -> tuple[int, int, int, int]:
        """Explicit padding for the float reference."""
        return explicit_padding(graph, op, op.attrs["filter"], (1, 1))

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        x = graph.tensor(op.inputs[0])
        return QuantParams(x.quant.scale.copy(), x.quant.zero_point.copy())

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        return {"filter": (reader.option(FILTER_H, "<i", 1), reader.option(FILTER_W, "<i", 1)),
                "stride": (reader.option(STRIDE_H, "<i", 1), reader.option(STRIDE_W, "<i", 1)),
                "padding": reader.padding(PADDING_SLOT), "activation": reader.activation(ACTIVATION_SLOT)}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        a = op.attrs
        return writer.table(POOL2D_OPTIONS, [
            (PADDING_SLOT, "padding", a["padding"]), (STRIDE_W, "i32", a["stride"][1]),
            (STRIDE_H, "i32", a["stride"][0]), (FILTER_W, "i32", a["filter"][1]),
            (FILTER_H, "i32", a["filter"][0]), (ACTIVATION_SLOT, "activation", a["activation"])])

    def padded_window(self, count_include_pad: bool) -> tuple[bool, float | None]:
        """How PyTorch's symmetric padding of this pool is lowered: ``(same_reads_it, pad_value)``:
        whether TFLite's SAME padding (which leaves padded positions out) computes what PyTorch
        does where the two pad alike, and the value of an explicit PAD before a VALID pool
        otherwise (None: not lowered)."""
        raise NotImplementedError

    def lower_window(self, lowering, label: str, x: str, name: str, rank: int, kernel, stride, padding,
                     count_include_pad: bool = True) -> str:
        """A PyTorch pool of IR tensor ``x``: no padding, SAME where it reads PyTorch's windows and
        pads as PyTorch does, else an explicit PAD (:meth:`padded_window`) before a VALID pool."""
        from edge_deploy.numerics.windows import compute_padding

        filter_hw, stride = lowering.pair(kernel, rank), lowering.pair(stride or kernel, rank)
        pads = lowering.pair(padding, rank, height=0)
        builder = lowering.builder
        if pads == (0, 0):
            return self.build(builder, x, name, filter_hw=filter_hw, stride=stride)
        in_hw = builder.graph.tensor(x).shape[1:3]
        if any(2 * p > k for p, k in zip(pads, filter_hw)):
            raise lowering.error(f"{label}: padding {pads} is more than half the window {filter_hw}")
        same_reads_it, pad_value = self.padded_window(count_include_pad)
        same, same_out = compute_padding(in_hw, filter_hw, stride, (1, 1), "same")
        torch_out = tuple((in_hw[i] + 2 * pads[i] - filter_hw[i]) // stride[i] + 1 for i in range(2))
        if same_reads_it and (same[0], same[2]) == pads and tuple(same_out) == torch_out:
            return self.build(builder, x, name, filter_hw=filter_hw, stride=stride, padding="same")
        if pad_value is None:
            raise lowering.error(f"{label}: this padding ({pads}) with count_include_pad=False differs from "
                                 "TFLite's SAME and cannot be lowered", "use count_include_pad=True")
        padded = builder.pad(x, f"{name}/pad", [(0, 0), (pads[0], pads[0]), (pads[1], pads[1]), (0, 0)],
                             pad_value=pad_value)
        return self.build(builder, padded, name, filter_hw=filter_hw, stride=stride)

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.MaxPool / nn.AvgPool (1-D and 2-D), padded or not, without dilation or ceil_mode."""
        src = lowering.source(node)
        rank = len(src.torch_shape)
        label = lowering.label(node, module)
        if module.ceil_mode or lowering.any_not(getattr(module, "dilation", 1), 1):
            raise lowering.error(f"{label}: only pooling without dilation or ceil_mode can be lowered")
        out = self.lower_window(lowering, label, src.name, node.name, rank, module.kernel_size, module.stride,
                                getattr(module, "padding", 0), getattr(module, "count_include_pad", True))
        return lowering.value(out, rank)

    def lower_aten(self, lowering, node) -> Any:
        """``aten.max_pool1d / 2d`` and ``aten.avg_pool1d / 2d``, padded or not, without dilation
        or ceil_mode."""
        src = lowering.tensor(node, 0)
        label = lowering.label(node)
        if lowering.arg(node, "ceil_mode", False) or lowering.any_not(lowering.arg(node, "dilation", 1), 1):
            raise lowering.error(f"{label}: only pooling without dilation or ceil_mode can be lowered")
        if lowering.arg(node, "divisor_override", None) is not None:
            raise lowering.error(f"{label}: divisor_override cannot be lowered")
        out = self.lower_window(lowering, label, src.name, node.name, len(src.torch_shape),
                                lowering.arg(node, "kernel_size", None), lowering.arg(node, "stride", None),
                                lowering.arg(node, "padding", 0), lowering.arg(node, "count_include_pad", True))
        return lowering.result(node, out)

    def build(self, builder, x, name, *, filter_hw, stride, padding="valid", activation="none", quant=None) -> str:
        """Pool ``x`` with a ``filter_hw`` window moving by ``stride``."""
        attrs = {"filter": tuple(filter_hw), "stride": tuple(stride), "padding": padding, "activation": activation}
        return builder.op(self.kind, name, [x], attrs, quant)
