"""Shape inference and validation for the graph IR; every error names the offending op."""

from __future__ import annotations

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import ACTIVATIONS, OP_ATTRS, PADDINGS, Graph, Op

# kind -> (minimum, maximum) number of inputs; outputs are always exactly one.
_ARITY = {
    "conv2d": (2, 3),
    "depthwise_conv2d": (2, 3),
    "fully_connected": (2, 3),
    "max_pool2d": (1, 1),
    "avg_pool2d": (1, 1),
    "add": (2, 2),
    "reshape": (1, 1),
    "softmax": (1, 1),
    "pad": (1, 1),
    "mean": (1, 1),
}


def _fail(op: Op, problem: str, hint: str | None = None) -> EdgeDeployError:
    return EdgeDeployError(f"op '{op.name}' ({op.kind}): {problem}", hint)


def _window_out(size: int, k: int, s: int, d: int, padding: str) -> int:
    effective = (k - 1) * d + 1
    if padding == "same":
        return (size + s - 1) // s
    return (size - effective + s) // s


def output_shape(graph: Graph, op: Op) -> tuple[int, ...]:
    """Compute ``op``'s output shape from its input shapes and attributes.

    Raises EdgeDeployError naming the op when shapes or attributes are inconsistent.
    """
    ins = graph.op_inputs(op)
    x = ins[0].shape
    a = op.attrs
    if op.kind in ("conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d"):
        if len(x) != 4:
            raise _fail(op, f"input '{op.inputs[0]}' must be NHWC (rank 4), got shape {x}")
        if op.kind in ("max_pool2d", "avg_pool2d"):
            kh, kw = a["filter"]
            dilation = (1, 1)
            channels = x[3]
        else:
            w = ins[1].shape
            if len(w) != 4:
                raise _fail(op, f"weights '{op.inputs[1]}' must be rank 4, got shape {w}")
            kh, kw = w[1], w[2]
            dilation = a["dilation"]
            if op.kind == "conv2d":
                if w[3] != x[3]:
                    raise _fail(op, f"weights OHWI {w} expect {w[3]} input channels, input has {x[3]}")
                channels = w[0]
            else:
                mult = a.get("depth_multiplier", 1)
                if w[0] != 1 or w[3] != x[3] * mult:
                    raise _fail(op, f"depthwise weights 1HWO {w} do not fit {x[3]} channels x multiplier {mult}")
                channels = w[3]
            _check_bias(graph, op, channels)
        oh = _window_out(x[1], kh, a["stride"][0], dilation[0], a["padding"])
        ow = _window_out(x[2], kw, a["stride"][1], dilation[1], a["padding"])
        if oh < 1 or ow < 1:
            raise _fail(op, f"window {kh}x{kw} does not fit input {x[1]}x{x[2]} with {a['padding']} padding")
        return (x[0], oh, ow, channels)
    if op.kind == "fully_connected":
        w = ins[1].shape
        if len(w) != 2:
            raise _fail(op, f"weights '{op.inputs[1]}' must be (out, in), got shape {w}")
        size = int(np.prod(x))
        if size % w[1] != 0:
            raise _fail(op, f"input of {size} elements cannot feed {w[1]} inputs per unit")
        _check_bias(graph, op, w[0])
        return (size // w[1], w[0])
    if op.kind == "add":
        try:
            return tuple(int(d) for d in np.broadcast_shapes(x, ins[1].shape))
        except ValueError:
            raise _fail(op, f"shapes {x} and {ins[1].shape} do not broadcast") from None
    if op.kind == "reshape":
        shape = list(a["shape"])
        size = int(np.prod(x))
        if shape.count(-1) > 1:
            raise _fail(op, f"new shape {shape} has more than one -1")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            if known == 0 or size % known:
                raise _fail(op, f"cannot reshape {x} to {shape}")
            shape[shape.index(-1)] = size // known
        if int(np.prod(shape)) != size:
            raise _fail(op, f"cannot reshape {x} ({size} elements) to {shape}")
        return tuple(shape)
    if op.kind == "softmax":
        return x
    if op.kind == "pad":
        pads = a["paddings"]
        if len(pads) != len(x) or any(p < 0 for pair in pads for p in pair):
            raise _fail(op, f"paddings {pads} do not fit input rank {len(x)} or are negative")
        return tuple(d + p[0] + p[1] for d, p in zip(x, pads))
    if op.kind == "mean":
        if not len(x) or not len(a["axis"]) or any(not -len(x) <= ax < len(x) for ax in a["axis"]):
            raise _fail(op, f"MEAN axis {a['axis']} is empty or out of range for input {x}")
        axes = sorted({ax % len(x) for ax in a["axis"]})
        if a.get("keep_dims", False):
            return tuple(1 if i in axes else d for i, d in enumerate(x))
        return tuple(d for i, d in enumerate(x) if i not in axes)
    raise _fail(op, "unknown op kind")


def _check_bias(graph: Graph, op: Op, channels: int) -> None:
    if len(op.inputs) > 2 and op.inputs[2]:
        bias = graph.tensor(op.inputs[2])
        if int(np.prod(bias.shape)) != channels:
            raise _fail(op, f"bias '{bias.name}' has shape {bias.shape}, expected {channels} values")


def infer_shapes(graph: Graph) -> Graph:
    """Recompute every op output's shape in place (ops in order); returns ``graph``.

    Raises EdgeDeployError naming the first op whose shapes do not fit.
    """
    for op in graph.ops:
        _check_structure(graph, op)
        graph.tensor(op.outputs[0]).shape = output_shape(graph, op)
    return graph


def _check_structure(graph: Graph, op: Op) -> None:
    if op.kind not in OP_ATTRS:
        raise _fail(op, "unsupported op kind", f"supported kinds: {', '.join(OP_ATTRS)}")
    low, high = _ARITY[op.kind]
    if not low <= len(op.inputs) <= high or len(op.outputs) != 1:
        raise _fail(op, f"takes {low}..{high} inputs and 1 output, got {len(op.inputs)} and {len(op.outputs)}")
    for name in list(op.inputs) + list(op.outputs):
        if name and name not in graph.tensors:
            raise _fail(op, f"refers to tensor '{name}', which the graph does not have")
    missing = [k for k in OP_ATTRS[op.kind] if k not in op.attrs and k not in ("pad_value", "depth_multiplier")]
    if missing:
        raise _fail(op, f"missing attribute(s) {', '.join(missing)}")
    if op.attrs.get("activation", "none") not in ACTIVATIONS:
        raise _fail(op, f"activation {op.attrs['activation']!r} is not one of {ACTIVATIONS}")
    if "padding" in OP_ATTRS[op.kind] and op.attrs["padding"] not in PADDINGS:
        raise _fail(op, f"padding {op.attrs['padding']!r} is not one of {PADDINGS}")
    for key in ("stride", "dilation", "filter"):
        if key in op.attrs and (len(op.attrs[key]) != 2 or min(op.attrs[key]) < 1):
            raise _fail(op, f"{key} {op.attrs[key]} must be two positive integers")


def validate(graph: Graph) -> Graph:
    """Check the whole graph: structure, execution order, shapes and (if int8) quantization.

    Returns ``graph``. Raises EdgeDeployError naming the bad op or tensor and what is wrong.
    """
    available = set(graph.inputs) | {n for n, t in graph.tensors.items() if t.is_constant}
    for name in graph.inputs + graph.outputs:
        graph.tensor(name)
    for name in graph.inputs:
        shape = graph.tensor(name).shape
        if any(d < 1 for d in shape):
            raise EdgeDeployError(f"graph input '{name}' has a dynamic or empty shape {shape}",
                                  "export the model with a fixed input shape (batch 1)")
    for op in graph.ops:
        _check_structure(graph, op)
        for name in op.inputs:
            if name and name not in available:
                raise _fail(op, f"reads '{name}' before any op produces it (ops are not in execution order)")
        expected = output_shape(graph, op)
        out = graph.tensor(op.outputs[0])
        if tuple(out.shape) != tuple(expected):
            raise _fail(op, f"output '{out.name}' has shape {out.shape}, inference gives {expected}")
        available.update(op.outputs)
        if graph.is_quantized:
            _check_quantized(graph, op)
    for name in graph.outputs:
        if name not in available:
            raise EdgeDeployError(f"graph output '{name}' is never produced")
    return graph


def _check_quantized(graph: Graph, op: Op) -> None:
    for name in [n for n in op.inputs[:1] + op.outputs if n]:
        t = graph.tensor(name)
        if t.dtype != "int8" or t.quant is None or t.quant.per_channel:
            raise _fail(op, f"activation '{name}' must be int8 with per-tensor quantization")
        if not -128 <= t.zero_point <= 127 or not t.scale > 0:
            raise _fail(op, f"activation '{name}' has scale {t.scale} / zero point {t.zero_point} out of range")
    if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
        w = graph.tensor(op.inputs[1])
        if w.dtype != "int8" or w.quant is None or not w.is_constant:
            raise _fail(op, f"weights '{w.name}' must be constant int8 with quantization")
        channels = graph.tensor(op.outputs[0]).shape[-1]
        if w.quant.scale.size not in (1, channels):
            raise _fail(op, f"weights '{w.name}' have {w.quant.scale.size} scales for {channels} channels")
        if len(op.inputs) > 2 and op.inputs[2]:
            b = graph.tensor(op.inputs[2])
            if b.dtype != "int32" or not b.is_constant:
                raise _fail(op, f"bias '{b.name}' must be a constant int32 tensor")
    if op.kind == "add":
        t = graph.tensor(op.inputs[1])
        if t.dtype != "int8" or t.quant is None:
            raise _fail(op, f"input '{t.name}' must be int8 with quantization")
    if op.kind == "softmax":
        out = graph.tensor(op.outputs[0])
        if out.zero_point != -128 or abs(out.scale - 1 / 256) > 1e-3 / 256:
            raise _fail(op, f"int8 softmax output '{out.name}' must have scale 1/256 and zero point -128")
