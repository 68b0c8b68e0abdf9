"""What the model templates print: every number of every layer, derived once, here.

:func:`model_context` takes the int8 graph, its layers and the arena plan and returns plain
dicts, lists, ints and strings (no NumPy), so the templates only format. The kernel arguments
come from :func:`edge_deploy.ir.kernel_params`, the same dictionary the reference interpreter
uses, so the generated C and the interpreter are fed identical numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.codegen.layers import Layer
from edge_deploy.ir.graph import Graph
from edge_deploy.ir.params import kernel_params
from edge_deploy.plan import ArenaPlan


def comment_text(text: str) -> str:
    """``text`` made safe inside a C block comment."""
    return str(text).replace("*/", "* /").replace("/*", "/ *")


def c_float(value: float) -> str:
    """A float32 as a C literal that round-trips exactly (``0.0123f``)."""
    text = np.format_float_positional(np.float32(value), unique=True, trim="0")
    return (text + "0" if text.endswith(".") else text) + "f"


def shape_text(shape) -> str:
    """``(1, 16, 16, 3)`` for a shape."""
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def _dims(shape) -> dict[str, int]:
    """An NHWC shape of rank <= 4 as cmsis_nn_dims fields (leading dimensions 1)."""
    full = [1] * (4 - len(shape)) + [int(d) for d in shape]
    return {"n": full[0], "h": full[1], "w": full[2], "c": full[3]}


_CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}


def _array(name: str, ctype: str, values, comment: str) -> dict[str, Any]:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    return {"name": name, "ctype": ctype, "data": flat, "count": len(flat), "comment": comment,
            "bytes": len(flat) * _CTYPE_BYTES[ctype]}


def _sparse_arrays(ctx: dict[str, Any], layer: Layer, w, layout: str) -> dict[str, Any]:
    """Adds the sparse weight arrays (ed_sparse.h format) of ``layer`` to ``ctx['arrays']`` and
    returns what the template needs to describe them."""
    from edge_deploy.codegen.sparse import GROUP_SIZES, encode_sparse, kernel_rows

    choice = layer.sparsity
    group_size = GROUP_SIZES[choice.choice]
    enc = encode_sparse(kernel_rows(w.data, layer.op.kind), group_size)
    wide = enc.indices.dtype == np.uint16
    unit = "group of 4" if group_size == 4 else "nonzero weight"
    name = layer.c_name
    # Nothing kept (a fully pruned layer): one unused index and group, as C has no empty arrays.
    values = enc.values if enc.kept_groups else np.zeros(group_size, np.int8)
    indices = enc.indices if enc.kept_groups else np.zeros(1, enc.indices.dtype)
    ctx["arrays"].append(_array(f"{name}_weight_values", "int8_t", values,
                                f"weights {layout} {shape_text(w.shape)}, scales {ctx['weights']}: the "
                                f"{enc.kept_groups} kept {unit}s of {enc.row_groups} per row, row after row"))
    ctx["arrays"].append(_array(f"{name}_weight_index", "uint16_t" if wide else "uint8_t", indices,
                                f"{unit} number of each kept value (element {group_size} * number of its row)"))
    ctx["arrays"].append(_array(f"{name}_weight_counts", "uint16_t", enc.row_counts,
                                f"kept {unit}s per output channel"))
    return {"group_size": group_size, "row_groups": enc.row_groups, "wide": wide, "kept": enc.kept_groups,
            "choice": choice.choice, "reason": comment_text(choice.reason)}


def _per_channel(values, channels: int) -> list[int]:
    arr = np.asarray(values).reshape(-1)
    return [int(v) for v in (np.full(channels, arr[0]) if arr.size == 1 else arr)]


def _window_fields(op_kind: str, params: dict[str, Any]) -> dict[str, Any]:
    top, bottom, left, right = (int(p) for p in params["padding"])
    fields = {
        "stride_h": int(params["stride"][0]), "stride_w": int(params["stride"][1]),
        "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right,
        "act_min": int(params["act_min"]), "act_max": int(params["act_max"]),
    }
    if op_kind in ("conv2d", "depthwise_conv2d"):
        fields.update(dilation_h=int(params["dilation"][0]), dilation_w=int(params["dilation"][1]))
    return fields


def _threshold_field(graph: Graph, layer: Layer) -> dict[str, int] | None:
    # Activation pruning: outputs below "value" (int8 units) become the output zero point.
    if "act_threshold" not in layer.op.attrs:
        return None
    y = graph.tensor(layer.output)
    return {"value": int(layer.op.attrs["act_threshold"]), "zero_point": y.zero_point,
            "count": int(np.prod(layer.output_shape))}


def _layer_context(graph: Graph, layer: Layer, pointers: dict[str, str], plan: ArenaPlan) -> dict[str, Any]:
    op = layer.op
    prefix = layer.c_name.upper()
    ctx: dict[str, Any] = {
        "index": layer.index, "mark": layer.mark, "c_name": layer.c_name, "prefix": prefix,
        "kind": op.kind, "kernel": layer.kernel, "source_name": comment_text(op.name),
        "short_name": layer.short_name, "macs": layer.macs,
        "inputs": [{"pointer": pointers[n], "shape": shape_text(graph.tensor(n).shape), "dims": _dims(graph.tensor(n).shape)}
                   for n in layer.inputs],
        "output": {"pointer": pointers[layer.output], "shape": shape_text(layer.output_shape),
                   "dims": _dims(layer.output_shape)},
        "scratch_bytes": layer.scratch_bytes,
        "scratch_offset": plan.scratch_offsets.get(layer.c_name, 0),
        "activation": op.attrs.get("activation", "none"),
        "arrays": [], "constants": [], "sparse": None, "winograd": None,
        "act_threshold": _threshold_field(graph, layer),
    }
    if layer.is_view:
        return ctx
    params = kernel_params(graph, op)
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])

    def constant(name: str, value: int, comment: str) -> None:
        ctx["constants"].append({"name": f"{prefix}_{name}", "value": int(value), "comment": comment})

    if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
        w = graph.tensor(op.inputs[1])
        channels = y.shape[-1]
        constant("INPUT_OFFSET", params["input_offset"], f"-(input zero point); input scale {c_float(x.scale)}")
        constant("OUTPUT_OFFSET", params["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        constant("ACT_MIN", params["act_min"], f"fused activation '{ctx['activation']}', in output units")
        constant("ACT_MAX", params["act_max"], "")
        layout = {"conv2d": "OHWI", "depthwise_conv2d": "1HWO", "fully_connected": "(out, in)"}[op.kind]
        scales = "per channel" if w.quant.per_channel else "per tensor"
        ctx["weights"] = f"{c_float(w.quant.scale.min())} .. {c_float(w.quant.scale.max())}, {scales}"
        ctx["sparse"] = None
        ctx["winograd"] = None
        if layer.sparsity is not None and layer.sparsity.choice != "dense":
            ctx["sparse"] = _sparse_arrays(ctx, layer, w, layout)
            ctx["sparse"]["pool"] = None
            if layer.fused_pool is not None:
                conv_out = graph.tensor(op.outputs[0]).shape
                ctx["sparse"]["pool"] = {"source_name": comment_text(layer.fused_pool.name),
                                         "conv_shape": shape_text(conv_out), "conv_dims": _dims(conv_out)}
        elif layer.winograd is not None and layer.winograd.use:
            from edge_deploy.codegen.winograd import transform_filter

            geo = layer.winograd.geometry
            ctx["arrays"].append(_array(
                f"{layer.c_name}_weights_winograd", "uint32_t", transform_filter(w.data, geo.stride),
                f"weights {layout} {shape_text(w.shape)}, scales {ctx['weights']}, Winograd F(4,3)-transformed "
                f"(24 G g, int16 pairs; ed_winograd.h): {geo.blocks} blocks of 4 channels x 6 x {geo.pairs} "
                f"virtual channel pairs x 4"))
            ctx["winograd"] = {"reason": comment_text(layer.winograd.reason), "segments": geo.segments,
                               "pairs": geo.pairs, "pool": None}
            if layer.fused_pool is not None:
                conv_out = graph.tensor(op.outputs[0]).shape
                ctx["winograd"]["pool"] = {"source_name": comment_text(layer.fused_pool.name),
                                           "conv_shape": shape_text(conv_out), "conv_dims": _dims(conv_out)}
        else:
            ctx["arrays"].append(_array(f"{layer.c_name}_weights", "int8_t", w.data,
                                        f"weights {layout} {shape_text(w.shape)}, scales {ctx['weights']}"))
        ctx["weights_shape"] = shape_text(w.shape)
        ctx["filter_dims"] = _dims(w.shape) if op.kind != "fully_connected" else {}
        ctx["has_bias"] = len(op.inputs) > 2 and bool(op.inputs[2])
        if ctx["has_bias"]:
            ctx["arrays"].append(_array(f"{layer.c_name}_bias", "int32_t", graph.tensor(op.inputs[2]).data,
                                        "bias, int32, scale input_scale * weight_scale[c]"))
        per_channel = op.kind != "fully_connected" or w.quant.per_channel
        ctx["per_channel"] = per_channel
        ctx["channels"] = int(channels)
        if per_channel:
            ctx["arrays"].append(_array(f"{layer.c_name}_out_mult", "int32_t", _per_channel(params["out_mult"], channels),
                                        "requantization multipliers (Q31), one per output channel"))
            ctx["arrays"].append(_array(f"{layer.c_name}_out_shift", "int32_t", _per_channel(params["out_shift"], channels),
                                        "requantization shifts (left shift when > 0), one per output channel"))
        else:
            constant("OUT_MULT", _per_channel(params["out_mult"], 1)[0], "requantization multiplier (Q31)")
            constant("OUT_SHIFT", _per_channel(params["out_shift"], 1)[0], "requantization shift")
        if op.kind == "fully_connected":
            depth = int(w.shape[1])
            rows = int(np.prod(x.shape)) // depth
            constant("FILTER_OFFSET", params["filter_offset"], "-(weights zero point)")
            ctx.update(depth=depth, units=int(w.shape[0]), rows=rows)
        else:
            ctx.update(_window_fields(op.kind, params))
            if op.kind == "depthwise_conv2d":
                ctx["ch_mult"] = int(channels) // int(x.shape[3])
    elif op.kind in ("max_pool2d", "avg_pool2d"):
        ctx.update(_window_fields(op.kind, params))
        ctx.update(filter_h=int(params["filter_hw"][0]), filter_w=int(params["filter_hw"][1]))
        constant("ACT_MIN", params["act_min"], f"fused activation '{ctx['activation']}', in output units")
        constant("ACT_MAX", params["act_max"], "")
    elif op.kind == "add":
        b = graph.tensor(op.inputs[1])
        constant("INPUT1_OFFSET", params["input1_offset"], f"-(input 1 zero point); scale {c_float(x.scale)}")
        constant("INPUT1_MULT", params["input1_mult"], "input 1 rescale to the common scale (Q31)")
        constant("INPUT1_SHIFT", params["input1_shift"], "")
        constant("INPUT2_OFFSET", params["input2_offset"], f"-(input 2 zero point); scale {c_float(b.scale)}")
        constant("INPUT2_MULT", params["input2_mult"], "input 2 rescale to the common scale (Q31)")
        constant("INPUT2_SHIFT", params["input2_shift"], "")
        constant("LEFT_SHIFT", params["left_shift"], "headroom shift before rescaling (TFLite: 20)")
        constant("OUTPUT_OFFSET", params["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        constant("OUT_MULT", params["out_mult"], "sum to output scale (Q31)")
        constant("OUT_SHIFT", params["out_shift"], "")
        constant("ACT_MIN", params["act_min"], f"fused activation '{ctx['activation']}', in output units")
        constant("ACT_MAX", params["act_max"], "")
        ctx["block_size"] = int(np.prod(y.shape))
    elif op.kind == "softmax":
        constant("INPUT_MULT", params["input_mult"], f"beta * input scale ({c_float(x.scale)}) in Q5.26 (Q31)")
        constant("INPUT_LEFT_SHIFT", params["input_left_shift"], "")
        constant("DIFF_MIN", params["diff_min"], "smallest difference to the row maximum that still counts")
        ctx.update(row_size=int(x.shape[-1]), rows=int(np.prod(x.shape)) // int(x.shape[-1]))
    elif op.kind == "mean":
        rank = len(x.shape)
        axes = [int(a) + 4 - rank for a in params["axis"]]  # on the shape padded to NHWC
        constant("INPUT_OFFSET", params["input_offset"], f"-(input zero point); input scale {c_float(x.scale)}")
        constant("OUTPUT_OFFSET", params["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        constant("OUT_MULT", params["out_mult"], "input scale / output scale / element count (Q31, count folded in as TFLite does)")
        constant("OUT_SHIFT", params["out_shift"], "")
        constant("AXIS_MASK", sum(1 << a for a in axes), "reduced axes: 1 n, 2 h, 4 w, 8 c")
        ctx["reduced"] = ", ".join("nhwc"[a] for a in axes)
        ctx["count"] = int(np.prod([x.shape[a] for a in params["axis"]]))
    elif op.kind == "pad":
        pads = [tuple(int(v) for v in p) for p in params["paddings"]]
        pads = [(0, 0)] * (4 - len(pads)) + pads
        constant("PAD_VALUE", params["pad_value"], "the value padded in (PAD: the output zero point)")
        ctx.update(pre=dict(zip("nhwc", [p[0] for p in pads])), post=dict(zip("nhwc", [p[1] for p in pads])))
    return ctx


def model_context(graph: Graph, layers: list[Layer], plan: ArenaPlan, *, source: str,
                  kernels: str) -> dict[str, Any]:
    """Everything ``model.h.j2`` and ``model.c.j2`` print, for ``graph`` planned as ``plan``.

    ``source`` names where the model came from (a file name, no directory) and ``kernels`` the
    default kernel path; both only appear in comments.
    """
    lifetimes: dict[str, tuple[int, int]] = {}
    for buffer in plan.buffers:
        for name in buffer.tensors:
            lifetimes[name] = (buffer.first, buffer.last)
    input_name, output_name = graph.inputs[0], graph.outputs[0]
    symbols = {input_name: "INPUT"}
    for layer in layers:
        symbols.setdefault(layer.output, f"{layer.c_name.upper()}_OUT")
    tensors = []
    # Activations the plan holds (a fused layer's intermediate tensor is never stored).
    planned = [name for name in graph.activations() if name in lifetimes]
    for name in planned:
        t = graph.tensor(name)
        first, last = lifetimes[name]
        tensors.append({
            "symbol": f"ARENA_{symbols[name]}", "offset": plan.tensor_offsets[name], "bytes": t.nbytes,
            "shape": shape_text(t.shape), "first": first, "last": last, "name": comment_text(name),
            "scale": c_float(t.scale), "zero_point": t.zero_point,
        })
    pointers = {name: f"ARENA_{symbols[name]}" for name in planned}
    layer_contexts = [_layer_context(graph, layer, pointers, plan) for layer in layers]
    run_layers = [ctx for ctx in layer_contexts if ctx["mark"] >= 0]
    x, y = graph.tensor(input_name), graph.tensor(output_name)
    weights_bytes = sum(a["bytes"] for ctx in layer_contexts for a in ctx["arrays"])
    return {
        "model_name": comment_text(graph.name).replace('"', "'").replace("\\", "/"),
        "guard": "ED_GENERATED_MODEL_H",
        "source": comment_text(source),
        "kernels": kernels,
        "input": {"symbol": pointers[input_name], "shape": shape_text(x.shape), "bytes": x.nbytes,
                  "scale": c_float(x.scale), "zero_point": x.zero_point, "name": comment_text(input_name)},
        "output": {"symbol": pointers[output_name], "shape": shape_text(y.shape), "bytes": y.nbytes,
                   "scale": c_float(y.scale), "zero_point": y.zero_point, "name": comment_text(output_name)},
        "arena_bytes": plan.arena_bytes,
        "arena_lower_bound_bytes": plan.lower_bound_bytes,
        "plan_strategy": plan.strategy,
        "tensors": tensors,
        "layers": layer_contexts,
        "run_layers": run_layers,
        "n_layers": len(run_layers),
        "weights_bytes": weights_bytes,
        "uses_sparse": any(ctx["sparse"] for ctx in layer_contexts),
        "uses_winograd": any(ctx.get("winograd") for ctx in layer_contexts),
        "uses_mean": any(ctx["kind"] == "mean" for ctx in layer_contexts),
        "uses_skip_zero": any(ctx["kernel"] == "ed_fully_connected_skip_zero_s8" for ctx in layer_contexts),
        "macs": sum(ctx["macs"] for ctx in layer_contexts),
    }
