"""What the model templates print: every number of every layer, derived once, here.

:func:`model_context` takes the int8 graph, its layers and the arena plan and returns plain
dicts, lists, ints and strings (no NumPy), so the templates only format. A layer's kernel
parameters come from :func:`edge_deploy.ops.kernel_params` (the numbers the reference
interpreter uses too) and its constants, arrays and comment lines from its kernel spec
(:mod:`edge_deploy.kernels`), whose template partial prints the call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.codegen.layers import Layer
from edge_deploy.ctext import c_float, c_string, comment_text, dims, shape_text
from edge_deploy.ir.graph import Graph
from edge_deploy.kernels.base import CArray, KernelContext
from edge_deploy.kernels.library import own_library
from edge_deploy.plan import ArenaPlan


def _array(prefix: str, array: CArray) -> dict[str, Any]:
    flat = [int(v) for v in np.asarray(array.values).reshape(-1)]
    return {"name": f"{prefix}_{array.name}", "ctype": array.ctype, "data": flat, "count": len(flat),
            "comment": array.comment, "bytes": array.nbytes}


def window_comment(params: dict[str, Any]) -> str:
    """``stride 1x2, padding top 0 bottom 0 left 1 right 1, dilation 1x1`` for a windowed op."""
    top, bottom, left, right = (int(v) for v in params["padding"])
    text = (f"stride {int(params['stride'][0])}x{int(params['stride'][1])}, padding top {top} bottom {bottom} "
            f"left {left} right {right}")
    if "dilation" in params:
        text += f", dilation {int(params['dilation'][0])}x{int(params['dilation'][1])}"
    return text


def _threshold_field(graph: Graph, layer: Layer) -> dict[str, int] | None:
    # Activation pruning: outputs below "value" (int8 units) become the output zero point.
    if "act_threshold" not in layer.op.attrs:
        return None
    y = graph.tensor(layer.output)
    return {"value": int(layer.op.attrs["act_threshold"]), "zero_point": y.zero_point,
            "count": int(np.prod(layer.output_shape))}


def layer_context(graph: Graph, layer: Layer, pointers: dict[str, str], scratch_offset: int = 0,
                  scratch_pointer: str | None = None) -> dict[str, Any]:
    """Everything ``templates/layer.c.j2`` and the layer's kernel partial print for ``layer``;
    ``pointers`` names the C expression of each activation tensor it reads or writes and
    ``scratch_pointer`` that of its scratch (default: the planned offset in ``ed_arena``)."""
    op = layer.op
    prefix = layer.c_name.upper()
    ctx: dict[str, Any] = {
        "index": layer.index, "mark": layer.mark, "c_name": layer.c_name, "prefix": prefix,
        "kind": op.kind, "kernel": layer.kernel, "source_name": comment_text(op.name),
        "short_name": layer.short_name, "macs": layer.macs,
        "inputs": [{"pointer": pointers[n], "shape": shape_text(graph.tensor(n).shape), "dims": dims(graph.tensor(n).shape)}
                   for n in layer.inputs],
        "output": {"pointer": pointers[layer.output], "shape": shape_text(layer.output_shape),
                   "dims": dims(layer.output_shape)},
        # The variable tensors it updates in place (the op's state_inputs, in order).
        "states": [{"pointer": pointers[n], "shape": shape_text(graph.tensor(n).shape),
                    "dims": dims(graph.tensor(n).shape)} for n in layer.states],
        "scratch_bytes": layer.scratch_bytes, "scratch_offset": scratch_offset,
        "scratch_pointer": scratch_pointer or f"ed_arena + {prefix}_SCRATCH_OFFSET",
        "activation": op.attrs.get("activation", "none"),
        "act_threshold": _threshold_field(graph, layer),
        "arrays": [], "constants": [], "comment": [], "template": "",
        # The API the partial renders the call for (the declared prototypes of the library).
        "api": layer.library or own_library(),
    }
    if layer.is_view:
        return ctx
    kernel: KernelContext = layer.spec.context(layer.call)
    comment = list(kernel.comment)
    if "stride" in layer.call.params and "padding" in layer.call.params:
        comment.append(window_comment(layer.call.params))
    if "activation" in op.attrs:
        comment.append(f"activation: {ctx['activation']}" + (f", {layer.macs:,} MACs" if layer.macs else ""))
    comment.append(layer.choice.comment())
    ctx.update(kernel.fields)
    ctx.update(
        template=layer.spec.template,
        constants=[{"name": f"{ctx['prefix']}_{c.name}", "value": c.value, "comment": c.comment}
                   for c in kernel.constants],
        arrays=[_array(layer.c_name, a) for a in kernel.arrays],
        comment=[comment_text(line) for line in comment],
    )
    return ctx


_STATE_CTYPES = {"int8": "int8_t", "int16": "int16_t", "float32": "float"}


def state_context(graph: Graph, layers: list[Layer]) -> list[dict[str, Any]]:
    """The variable (state) tensors as ``model.c`` declares them: each a static array of its
    own (never in the arena), holding its zero point at start-up and after
    ``ed_model_reset_state()``, updated in place by the layers listed."""
    users: dict[str, list[str]] = {}
    for layer in layers:
        for name in layer.states:
            users.setdefault(name, []).append(layer.c_name)
    out = []
    for i, name in enumerate(graph.variables()):
        t = graph.tensor(name)
        count = int(np.prod(t.shape))
        out.append({"tensor": name, "symbol": f"ed_state_{i}", "ctype": _STATE_CTYPES[t.dtype], "count": count,
                    "bytes": t.nbytes, "zero_point": t.zero_point, "shape": shape_text(t.shape),
                    "name": comment_text(name), "dtype": t.dtype, "layers": users.get(name, [])})
    return out


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
    states = state_context(graph, layers)
    pointers.update({state["tensor"]: state["symbol"] for state in states})
    layer_contexts = [layer_context(graph, layer, pointers, plan.scratch_offsets.get(layer.c_name, 0))
                      for layer in layers]
    run_layers = [ctx for ctx in layer_contexts if ctx["mark"] >= 0]
    x, y = graph.tensor(input_name), graph.tensor(output_name)
    return {
        "model_name": comment_text(graph.name),
        "model_name_c": c_string(graph.name),
        "guard": "ED_GENERATED_MODEL_H",
        "source": comment_text(source),
        "kernels": kernels,
        "input": {"symbol": pointers[input_name], "shape": shape_text(x.shape), "bytes": x.nbytes, "dtype": x.dtype,
                  "scale": c_float(x.scale), "zero_point": x.zero_point, "name": comment_text(input_name)},
        "output": {"symbol": pointers[output_name], "shape": shape_text(y.shape), "bytes": y.nbytes, "dtype": y.dtype,
                   "scale": c_float(y.scale), "zero_point": y.zero_point, "name": comment_text(output_name)},
        "arena_bytes": plan.arena_bytes,
        "arena_lower_bound_bytes": plan.lower_bound_bytes,
        "plan_strategy": plan.strategy,
        "tensors": tensors,
        "states": states,
        "state_bytes": sum(state["bytes"] for state in states),
        "layers": layer_contexts,
        "run_layers": run_layers,
        "n_layers": len(run_layers),
        "weights_bytes": sum(a["bytes"] for ctx in layer_contexts for a in ctx["arrays"]),
        "headers": sorted({layer.spec.header for layer in layers if layer.spec is not None} - {"arm_nnfunctions.h"}),
        "macs": sum(ctx["macs"] for ctx in layer_contexts),
    }
