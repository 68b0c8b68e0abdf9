"""PAD / PADV2: constant padding of every dimension; PAD pads with the output zero point (a real 0),
PADV2 with an explicit int8 value. The output keeps the input's quantization. C API: ``arm_pad_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

PAD, PADV2 = 34, 60
PAD_OPTIONS, PADV2_OPTIONS = 22, 43


def _paddings_check(value: Any) -> str | None:
    try:
        ok = all(len(p) == 2 for p in value)
    except TypeError:
        ok = False
    return None if ok else f"must be one (before, after) pair per dimension, got {value!r}"


def pad_s8(x: np.ndarray, paddings, pad_value: int) -> np.ndarray:
    """PAD / PADV2, int8: ``paddings`` is one ``(before, after)`` pair per dimension.

    ``pad_value`` is the output zero point for PAD (a real 0), or PADV2's constant.
    """
    return np.pad(x, [tuple(int(v) for v in p) for p in paddings], constant_values=int(pad_value)).astype(np.int8)


class Pad(OpDef):
    kind = "pad"
    reference = staticmethod(pad_s8)
    attrs = (Attr("paddings", _paddings_check), Attr("pad_value", lambda v: None, required=False))
    tflite_codes = (TfliteCode(PAD, "PAD", 2), TfliteCode(PADV2, "PADV2", 2))
    torch_modules = ("ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d")

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x = graph.tensor(op.inputs[0]).shape
        pads = op.attrs["paddings"]
        if len(pads) != len(x) or any(p < 0 for pair in pads for p in pair):
            raise op_error(op, f"paddings {pads} do not fit input rank {len(x)} or are negative")
        return tuple(d + p[0] + p[1] for d, p in zip(x, pads))

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        value = op.attrs.get("pad_value")
        y = graph.tensor(op.outputs[0])
        return {"paddings": [tuple(p) for p in op.attrs["paddings"]],
                "pad_value": y.zero_point if value is None else int(value)}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        # The batch axis holds N samples here; the model's padding of it is for one (batch 1).
        return pad_s8(args[0], [(0, 0)] + params["paddings"][1:], params["pad_value"])

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        pads = [(0, 0)] + [tuple(p) for p in op.attrs["paddings"][1:]]
        return np.pad(args[0], pads, constant_values=op.attrs.get("pad_value") or 0.0)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        x = graph.tensor(op.inputs[0])
        return QuantParams(x.quant.scale.copy(), x.quant.zero_point.copy())

    def quantize_attrs(self, op: Op) -> None:
        """Zero padding becomes PAD (the zero point); -inf, a max pool's padding from PyTorch,
        becomes PADV2 with int8's lowest value, which no window's maximum can then take."""
        value = op.attrs.get("pad_value")
        if value is not None and value == float("-inf"):
            op.attrs["pad_value"] = -128
            return
        if value not in (None, 0, 0.0):
            raise EdgeDeployError(f"op '{op.name}': only zero or -inf padding can be quantized")
        op.attrs["pad_value"] = None

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) < 2:
            raise reader.error("(PAD) has no paddings input")
        pads = reader.constant(1).astype(np.int64).reshape(-1, 2)
        value = None
        if code == PADV2 and len(reader.inputs) > 2 and reader.inputs[2] >= 0:
            value = int(reader.constant(2).reshape(-1)[0])
        return {"paddings": [(int(a), int(b)) for a, b in pads], "pad_value": value}

    def tflite_code(self, op: Op) -> TfliteCode:
        return self.tflite_codes[op.attrs.get("pad_value") is not None]

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(PADV2_OPTIONS if op.attrs.get("pad_value") is not None else PAD_OPTIONS, [])

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        extra = [("paddings", np.array(op.attrs["paddings"], dtype=np.int32).reshape(-1, 2))]
        if op.attrs.get("pad_value") is not None:
            extra.append(("pad_value", np.array([op.attrs["pad_value"]], dtype=np.int8).reshape(())))
        return extra

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.ZeroPad1d / 2d (and ConstantPad with value 0): the spatial axes padded with zeros.
        (The lowering folds a pad that equals a following convolution's SAME padding into it.)"""
        label = lowering.label(node, module)
        src = lowering.source(node)
        rank = len(src.torch_shape)
        pads = tuple(int(p) for p in module.padding)  # (left, right[, top, bottom]), PyTorch's order
        if float(getattr(module, "value", 0.0)) != 0.0 or min(pads) < 0 or rank not in (3, 4):
            raise lowering.error(f"{label}: only zero padding (no cropping) of a (N, C, L) or (N, C, H, W) "
                                 "tensor can be lowered", "pad with zeros, e.g. nn.ZeroPad2d")
        height = (0, 0) if rank == 3 else (pads[2], pads[3])
        out = self.build(lowering.builder, src.name, node.name, [(0, 0), height, (pads[0], pads[1]), (0, 0)])
        return lowering.value(out, rank)

    def build(self, builder, x, name, paddings, *, pad_value=None, quant=None) -> str:
        """PAD (``pad_value`` None: the zero point) or PADV2 (an explicit int8 value)."""
        return builder.op(self.kind, name, [x], {"paddings": [tuple(p) for p in paddings], "pad_value": pad_value},
                          quant)


OP = Pad()
