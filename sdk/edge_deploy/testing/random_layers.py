"""Random int8 layers for any kernel: the cost calibration set (each kernel spec's ``calibration``)
and the kernels' tests share them.

A layer description is data, the same for every op: ``in`` (the data input shapes), ``w`` (the
weight shape of a weighted op), ``attrs`` (the op's attributes; a fused activation defaults to
none), and optionally ``zero_groups`` / ``zero_weights`` (a share of the weights' groups of four,
or of single weights, set to zero), ``density`` (input 0 is a pruned activation with that share of
nonzero values), ``dtypes`` (of the inputs, default int8; "float32" for a model's float input),
``out_dtype`` (default int8; "float32" for a model's float output), ``shared_quant`` (every input
quantized like the first), ``scalar`` (a second input that is one constant int8 value), ``pool`` (a max pool of window 2, stride 2 fused after the op), ``add`` (an ADD fused after the op, its
output as the ADD's input 0 or 1, the other a further graph input ``skip`` of the same shape),
``per_tensor``
(one weight scale for the layer), ``slow_channel`` (channel 0's weight scale 10^-7, so its
requantization needs a shift beyond any kernel's fast range, about -23), ``op`` (the op kind, for a kernel serving several; default
the kernel's ``op``) and ``operands``: the op's inputs after the data inputs when they are not one
``w`` and a bias, in the op's order, each ``(shape, dtype)`` (a constant of random values over the
dtype's range, symmetric with a random scale) or ``(shape, dtype, "state")`` (a variable tensor, a
state the op updates in place, starting from random values: SVDF's). :func:`random_case` turns it into a quantized one-op graph with
random scales and data, whose kernel parameters come from the op module, as a model's would.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels.base import LayerCall
from edge_deploy.ops import get_op, kernel_params, output_shape, validate
from edge_deploy.quantize.ptq import activation_quant
from edge_deploy.testing.cases import KernelCase

POOL_ATTRS = {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"}


def prune(rng: np.random.Generator, rows: np.ndarray, zero_groups: float, zero_weights: float) -> np.ndarray:
    """``rows`` (one per output channel) with a ``zero_groups`` share of their groups of four and
    a ``zero_weights`` share of single weights set to zero."""
    rows = rows.copy()
    k = rows.shape[1]
    group_mask = rng.random((rows.shape[0], -(-k // 4))) < zero_groups
    rows[np.repeat(group_mask, 4, axis=1)[:, :k]] = 0
    rows[rng.random(rows.shape) < zero_weights] = 0
    return rows


def _quant(rng: np.random.Generator) -> QuantParams:
    return activation_quant(-float(rng.uniform(0.5, 8.0)), float(rng.uniform(0.5, 8.0)))


def random_case(rng: np.random.Generator, kernel: str, layer: dict[str, Any], *, name: str = "") -> KernelCase:
    """A random case of C kernel ``kernel`` on the layer ``layer`` describes (module docstring).
    Raises ValueError when the kernel does not apply to it."""
    spec = get_kernel(kernel)
    kind = layer.get("op", spec.op)
    definition = get_op(kind)
    if hasattr(definition, "random_layer"):  # an op whose inputs the generic layer cannot describe (LSTM)
        return _op_random_case(rng, spec, definition, layer, name or kernel)
    tensors: dict[str, Tensor] = {}
    names = [f"in{i}" for i in range(len(layer["in"]))]
    data = {}
    dtypes = layer.get("dtypes", ["int8"] * len(names))
    for tensor_name, shape, dtype in zip(names, layer["in"], dtypes):
        if dtype == "float32":  # a model's float input (QUANTIZE)
            tensors[tensor_name] = Tensor(tensor_name, tuple(shape), dtype)
            data[tensor_name] = rng.normal(0.0, 2.0, tuple(shape)).astype(np.float32)
        else:  # "shared_quant": every input quantized alike (ops that copy bytes, CONCATENATION)
            shared = layer.get("shared_quant") and tensor_name != names[0]
            tensors[tensor_name] = Tensor(tensor_name, tuple(shape), "int8",
                                          tensors[names[0]].quant if shared else _quant(rng))
            data[tensor_name] = rng.integers(-128, 128, tuple(shape), dtype=np.int8)
    op_inputs = list(names)
    if layer.get("scalar"):  # a second input that is one constant value (x + 3)
        tensors["scalar"] = Tensor("scalar", (), "int8", _quant(rng), np.array(rng.integers(-128, 128), dtype=np.int8))
        op_inputs.append("scalar")
    if "w" in layer:
        w_shape = tuple(layer["w"])
        channels = w_shape[definition.weight_axis]
        w = rng.integers(-127, 128, w_shape, dtype=np.int8)
        if definition.weight_axis == 0:  # rows in the kernels' order: one per output channel
            w = prune(rng, w.reshape(channels, -1), layer.get("zero_groups", 0.0),
                      layer.get("zero_weights", 0.0)).reshape(w_shape)
        scales = rng.uniform(0.001, 0.01, 1 if layer.get("per_tensor") else channels).astype(np.float32)
        if layer.get("slow_channel"):
            scales[0] = 1e-7
        tensors["weights"] = Tensor("weights", w_shape, "int8",
                                    QuantParams(scales, np.zeros(scales.size), definition.weight_axis), w)
        bias_scale = np.float32(tensors["in0"].scale) * scales
        tensors["bias"] = Tensor("bias", (channels,), "int32", QuantParams(bias_scale, np.zeros(scales.size), 0),
                                 rng.integers(-20000, 20000, channels).astype(np.int32))
        op_inputs += ["weights", "bias"]
    states: dict[str, np.ndarray] = {}
    for i, (shape, dtype, *role) in enumerate(layer.get("operands", ())):
        operand, info = f"operand{i}", np.iinfo(np.dtype(dtype))
        scale = {"int8": (0.001, 0.01), "int16": (1e-5, 1e-4)}.get(dtype, (1e-6, 1e-6))
        quant = QuantParams([float(rng.uniform(*scale))], [0])
        values = rng.integers(max(info.min, -(1 << 20)) + 1, min(info.max, 1 << 20), tuple(shape)).astype(dtype)
        if role == ["state"]:
            tensors[operand] = Tensor(operand, tuple(shape), dtype, quant, variable=True)
            states[operand] = values
        else:
            tensors[operand] = Tensor(operand, tuple(shape), dtype, quant, values)
        op_inputs.append(operand)
    attrs = {"activation": "none"} if any(a.name == "activation" for a in definition.attrs) else {}
    attrs.update(layer.get("attrs", {}))
    op = Op(kind, "op", op_inputs, ["out"], attrs)
    tensors["out"] = Tensor("out", (), "int8", None)
    graph = Graph(f"case_{name or kernel}", tensors, [op], list(names), ["out"])
    tensors["out"].shape = output_shape(graph, op)
    if layer.get("out_dtype", "int8") == "float32":  # a model's float output (DEQUANTIZE)
        tensors["out"].dtype = "float32"
    else:
        tensors["out"].quant = definition.output_quant(graph, op, {"out": (0.0, 0.0)}, lambda lo, hi: _quant(rng))
    epilogue = None
    if layer.get("pool"):
        tensors["pooled"] = Tensor("pooled", (), "int8", tensors["out"].quant)
        epilogue = Op("max_pool2d", "pool", ["out"], ["pooled"], dict(POOL_ATTRS))
        graph.ops.append(epilogue)
        graph.outputs = ["pooled"]
        tensors["pooled"].shape = output_shape(graph, epilogue)
    if layer.get("add") is not None:
        tensors["skip"] = Tensor("skip", tensors["out"].shape, "int8", _quant(rng))
        tensors["sum"] = Tensor("sum", tensors["out"].shape, "int8", _quant(rng))
        operands = ["out", "skip"] if layer["add"] == 0 else ["skip", "out"]
        epilogue = Op("add", "add", operands, ["sum"], {"activation": layer.get("add_activation", "none")})
        graph.ops.append(epilogue)
        graph.inputs.append("skip")
        graph.outputs = ["sum"]
        data["skip"] = rng.integers(-128, 128, tensors["out"].shape, dtype=np.int8)
    validate(graph)
    if layer.get("density") is not None:  # in0 as an activation-pruned ReLU's output
        zero = tensors["in0"].zero_point
        data["in0"][rng.random(data["in0"].shape) >= layer["density"]] = np.int8(zero)
        tensors["raw"] = Tensor("raw", tensors["in0"].shape, "int8", tensors["in0"].quant)
        graph.ops.insert(0, Op("max_pool2d", "pruned", ["raw"], ["in0"],
                               {**POOL_ATTRS, "filter": (1, 1), "stride": (1, 1), "activation": "relu",
                                "act_threshold": zero, "act_density": float(layer["density"])}))
        graph.inputs = ["raw"]
    params = kernel_params(graph, op)
    # The reference updates a state in place: it gets a copy, the kernel the initial values.
    args = [data[n] for n in names] + [states[n].copy() if n in states else tensors[n].data
                                       for n in op_inputs[len(names):]]
    expected = definition.run_int8(args, {**params, "rounding": "double"} if definition.rounding_sensitive else params)
    if epilogue is not None:
        tail_inputs = [expected if n == "out" else data[n] for n in epilogue.inputs]
        expected = get_op(epilogue).run_int8(tail_inputs, kernel_params(graph, epilogue))
    call = LayerCall(graph, op, params, epilogue=epilogue)
    why = spec.applies(call)
    if why:
        raise ValueError(f"{kernel} does not apply to {layer}: {why}")
    return KernelCase(name or kernel, spec, call, data, np.asarray(expected).reshape(call.final_output.shape),
                      states=states)


def _op_random_case(rng: np.random.Generator, spec, definition, layer: dict[str, Any], name: str) -> KernelCase:
    graph, op, data = definition.random_layer(rng, layer, lambda: _quant(rng))
    validate(graph)
    params = kernel_params(graph, op)
    # Copies: the reference updates a state input in place; the case keeps the state it starts from.
    args = [np.array(data[n]) if n in data else graph.tensor(n).data if n else None for n in op.inputs]
    expected = definition.run_int8(args, {**params, "rounding": "double"} if definition.rounding_sensitive else params)
    call = LayerCall(graph, op, params)
    why = spec.applies(call)
    if why:
        raise ValueError(f"{spec.name} does not apply to {layer}: {why}")
    states = {n: v for n, v in data.items() if graph.tensor(n).variable}
    inputs = {n: v for n, v in data.items() if n not in states}
    return KernelCase(name, spec, call, inputs, np.asarray(expected).reshape(call.final_output.shape), states=states)


def calibration_cases(seed: int = 0) -> list[KernelCase]:
    """Every kernel on the layers of its spec's ``calibration`` list, with seeded random data: each
    kernel draws from its own stream (seeded by ``seed`` and its name), so adding a kernel
    changes no other kernel's data, nor its fitted costs."""
    from edge_deploy.kernels import all_kernels

    cases = []
    for spec in all_kernels():
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        cases += [random_case(rng, spec.name, layer, name=f"{spec.name}-{i}") for i, layer in enumerate(spec.calibration)]
    return cases
