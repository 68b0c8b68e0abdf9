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

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.MaxPool / nn.AvgPool (1-D and 2-D) without padding, dilation or ceil_mode."""
        src = lowering.source(node)
        rank = len(src.torch_shape)
        if (lowering.any_not(getattr(module, "padding", 0), 0) or module.ceil_mode
                or lowering.any_not(getattr(module, "dilation", 1), 1)):
            raise lowering.error(f"{lowering.label(node, module)}: only pooling without padding, dilation or "
                                 "ceil_mode can be lowered")
        stride = module.stride if module.stride is not None else module.kernel_size
        out = self.build(lowering.builder, src.name, node.name, filter_hw=lowering.pair(module.kernel_size, rank),
                         stride=lowering.pair(stride, rank))
        return lowering.value(out, rank)

    def lower_aten(self, lowering, node) -> Any:
        """``aten.max_pool1d / 2d`` and ``aten.avg_pool1d / 2d`` without padding, dilation or ceil_mode."""
        src = lowering.tensor(node, 0)
        rank = len(src.torch_shape)
        if (lowering.any_not(lowering.arg(node, "padding", 0), 0) or lowering.arg(node, "ceil_mode", False)
                or lowering.any_not(lowering.arg(node, "dilation", 1), 1)):
            raise lowering.error(f"{lowering.label(node)}: only pooling without padding, dilation or ceil_mode "
                                 "can be lowered")
        kernel = lowering.arg(node, "kernel_size", None)
        stride = lowering.arg(node, "stride", None) or kernel
        out = self.build(lowering.builder, src.name, node.name, filter_hw=lowering.pair(kernel, rank),
                         stride=lowering.pair(stride, rank))
        return lowering.result(node, out)

    def build(self, builder, x, name, *, filter_hw, stride, padding="valid", activation="none", quant=None) -> str:
        """Pool ``x`` with a ``filter_hw`` window moving by ``stride``."""
        attrs = {"filter": tuple(filter_hw), "stride": tuple(stride), "padding": padding, "activation": activation}
        return builder.op(self.kind, name, [x], attrs, quant)
