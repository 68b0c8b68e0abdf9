"""FULLY_CONNECTED: ``(out, in)`` int8 weights times the input flattened to rows of ``in``
features, requantized per tensor or per output unit, fused ReLU / ReLU6; with ``keep_num_dims``
(TensorFlow's Dense on a 3-D input) the output keeps the input's leading axes (same bytes). C API:
``arm_fully_connected_s8`` / ``arm_fully_connected_per_channel_s8``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._shared import check_bias, check_weights_quantized, clamp_activation, requant_params, requantize
from edge_deploy.ops.base import ACTIVATION, Attr, OpDef, TfliteCode, op_error

FULLY_CONNECTED = 9
FULLY_CONNECTED_OPTIONS = 8
ACTIVATION_SLOT, WEIGHTS_FORMAT, KEEP_NUM_DIMS = 0, 1, 2


def fully_connected_s8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    input_offset: int,
    output_offset: int,
    out_mult,
    out_shift,
    filter_offset: int = 0,
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """FULLY_CONNECTED, int8 (``arm_fully_connected_s8``): x reshaped to ``(-1, in)``, w ``(out, in)``.

    ``out_mult`` / ``out_shift`` are scalars (per-tensor) or one per output unit (per-channel).
    Returns ``(rows, out)`` int8. Raises ValueError when the sizes disagree.
    """
    if w.ndim != 2 or x.size % w.shape[1] != 0:
        raise ValueError(f"fully_connected_s8: input {x.shape} does not match weights {w.shape}")
    rows = x.reshape(-1, w.shape[1]).astype(np.int64) + int(input_offset)
    acc = rows @ (w.astype(np.int64) + int(filter_offset)).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)


class FullyConnected(OpDef):
    kind = "fully_connected"
    reference = staticmethod(fully_connected_s8)
    attrs = (ACTIVATION, Attr("keep_num_dims", lambda v: None, required=False, default=False))
    arity = (2, 3)
    weight_axis = 0
    rounding_sensitive = True
    # ai-edge-litert 2.x's reference FULLY_CONNECTED was measured to round once (METHODS.md 6).
    litert_rounding = "single"
    tflite_codes = (TfliteCode(FULLY_CONNECTED, "FULLY_CONNECTED", 4),)
    tflite_data_inputs = 3
    torch_modules = ("Linear",)
    aten_targets = ("linear", "addmm")

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        if len(w) != 2:
            raise op_error(op, f"weights '{op.inputs[1]}' must be (out, in), got shape {w}")
        size = int(np.prod(x))
        if size % w[1] != 0:
            raise op_error(op, f"input of {size} elements cannot feed {w[1]} inputs per unit")
        check_bias(graph, op, w[0])
        if op.attrs.get("keep_num_dims"):
            if x[-1] != w[1]:
                raise op_error(op, f"keep_num_dims needs the input's last axis ({x[-1]}) to be the {w[1]} inputs")
            return tuple(x[:-1]) + (w[0],)
        return (size // w[1], w[0])

    def macs(self, graph: Graph, op: Op) -> int:
        return math.prod(graph.tensor(op.outputs[0]).shape) * graph.tensor(op.inputs[1]).shape[1]

    def check_quantized(self, graph: Graph, op: Op) -> None:
        check_weights_quantized(graph, op)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        return {**requant_params(graph, op, self.weight_axis), "filter_offset": -graph.tensor(op.inputs[1]).zero_point}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return fully_connected_s8(args[0], args[1], args[2] if len(args) > 2 else None, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        w = args[1]
        out = args[0].reshape(-1, w.shape[1]).astype(np.float64) @ w.astype(np.float64).T
        if len(args) > 2 and args[2] is not None:
            out = out + args[2]
        return clamp_activation(out, op.attrs["activation"])

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if reader.option(WEIGHTS_FORMAT, "<b", 0) != 0:
            raise reader.error("(FULLY_CONNECTED) uses shuffled weights, not supported")
        attrs = {"activation": reader.activation(ACTIVATION_SLOT)}
        if reader.option(KEEP_NUM_DIMS, "<?", False):
            attrs["keep_num_dims"] = True
        return attrs

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        fields = [(ACTIVATION_SLOT, "activation", op.attrs["activation"])]
        if op.attrs.get("keep_num_dims"):
            fields.append((KEEP_NUM_DIMS, "bool", True))
        return writer.table(FULLY_CONNECTED_OPTIONS, fields, slots=3)

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Linear after a flatten: a channels-first flatten's order is folded into the columns."""
        src = lowering.source(node)
        w = module.weight.detach().double().numpy()
        if len(src.torch_shape) != 2:
            raise lowering.error(f"{lowering.label(node, module)}: a Linear layer must follow a flatten "
                                 f"(its input has shape {src.torch_shape})")
        if src.column_order is not None:
            w = w[:, src.column_order]
        b = None if module.bias is None else module.bias.detach().double().numpy().astype(np.float32)
        out = lowering.builder.fully_connected(src.name, node.name, w.astype(np.float32), b)
        return lowering.value(out, torch_shape=(src.torch_shape[0], w.shape[0]))

    def lower_aten(self, lowering, node) -> Any:
        """``aten.linear`` (input, weight, bias), or ``aten.addmm`` (bias, input, transposed
        weight) of a decomposed graph, on a flattened input; a channels-first flatten's order is
        folded into the weight columns."""
        if node.target.__name__.startswith("addmm"):
            src, w, b = lowering.tensor(node, 1), lowering.weight(node, 2).T, lowering.weight(node, 0)
        else:
            src, w, b = lowering.tensor(node, 0), lowering.weight(node, 1), lowering.weight(node, 2)
        if len(src.torch_shape) != 2:
            raise lowering.error(f"{lowering.label(node)}: a linear layer must follow a flatten "
                                 f"(its input has shape {src.torch_shape})")
        if src.column_order is not None:
            w = w[:, src.column_order]
        out = lowering.builder.fully_connected(src.name, node.name, w.astype(np.float32),
                                               None if b is None else b.astype(np.float32))
        return lowering.result(node, out)

    def build(self, builder, x, name, weights, bias=None, *, activation="none", quant=None, w_quant=None,
              b_quant=None) -> str:
        """FULLY_CONNECTED of ``x`` with ``(out, in)`` weights."""
        ins = [x] + builder.weights(name, weights, bias, w_quant, b_quant)
        return builder.op(self.kind, name, ins, {"activation": activation}, quant)


OP = FullyConnected()
