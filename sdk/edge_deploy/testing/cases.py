"""Kernel cases: one call of one C kernel on given arrays and parameters, as the tests and the cost
calibration run them.

A case is a one-op graph (plus a fused epilogue op) whose kernel parameters are given explicitly
(``params``, the keyword arguments of the op's int8 reference, e.g.
:func:`edge_deploy.ops.conv2d.conv2d_s8`), so a test can set any multiplier or offset. It is
rendered through the same kernel partial as a generated model (:mod:`edge_deploy.testing.harness`),
and its expected output comes from the op's reference.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_deploy.codegen.layers import Layer, call_tensors
from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels.base import KernelSpec, LayerCall
from edge_deploy.kernels.choose import KernelChoice
from edge_deploy.ops import get_op, kernel_params, output_shape


@dataclass
class KernelCase:
    """One kernel call: ``kernel`` (its spec), ``call`` (the layer), the data ``inputs`` by
    tensor name, the reference ``expected`` output, the scratch to hand the kernel
    (``scratch_bytes``; default the reserved size) and the initial value of each variable tensor
    the op updates in place (``states``, by name)."""

    name: str
    kernel: KernelSpec
    call: LayerCall
    inputs: dict[str, np.ndarray]
    expected: np.ndarray
    scratch_bytes: int = field(default=-1)
    states: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scratch_bytes < 0:
            self.scratch_bytes = self.kernel.scratch_bytes(self.call)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The shape the kernel writes."""
        return tuple(self.call.final_output.shape)

    @property
    def macs(self) -> int:
        """The op's multiply-accumulates."""
        return self.call.macs

    def layer(self, index: int) -> Layer:
        """The case as a code-generation layer named ``case<index>``."""
        call, graph = self.call, self.call.graph
        activations, states = call_tensors(call)
        return Layer(index=index, mark=index, call=call, spec=self.kernel,
                     choice=KernelChoice(self.kernel.name, f"test case {self.name}", 0),
                     short_name=f"case{index}", c_name=f"case{index}", inputs=activations,
                     output=call.final_output.name, input_shapes=tuple(graph.tensor(n).shape for n in activations),
                     output_shape=self.out_shape, macs=self.macs, scratch_bytes=self.scratch_bytes,
                     states=states)


def _quant(scale: float, zero_point: int) -> QuantParams:
    return QuantParams([scale], [zero_point])


def kernel_case(name: str, kernel: str, op_kind: str, inputs: list[np.ndarray], params: dict[str, Any], *,
                weights: np.ndarray | None = None, bias: np.ndarray | None = None,
                attrs: dict[str, Any] | None = None, epilogue: tuple[str, dict[str, Any]] | None = None,
                rounding: str = "double", scratch_bytes: int = -1, input_density: float | None = None,
                check: bool = True, residual: tuple[int, np.ndarray, float, int, float, int] | None = None
                ) -> KernelCase:
    """A case calling C kernel ``kernel`` for an ``op_kind`` op on the int8 ``inputs`` (each with
    the batch dimension the op sees), with the op's reference parameters ``params`` (offsets,
    multipliers, shifts, stride, padding, ...), constant ``weights`` / ``bias`` and op
    ``attrs`` (shape attributes: stride, filter, ...). ``epilogue`` is ``(kind, attrs)`` of an op
    fused after it (a max pool). ``input_density`` marks input 0 as a pruned activation with that
    share of nonzero values (what ``ed_fully_connected_skip_zero_s8`` needs to apply);
    ``check=False`` renders the call even where the kernel spec says it does not apply (to test
    the C function's general paths). ``residual`` is ``(slot, skip, skip scale, skip zero point,
    sum scale, sum zero point)`` of an ADD fused after the op (``epilogue`` ``("add", attrs)``):
    the op's output (scale 1) is the ADD's input ``slot``, the int8 array ``skip`` (a further input
    of the case) the other. The
    expected output is the op's reference (then the epilogue's, with its own parameters from the
    graph). Raises EdgeDeployError for an unknown kernel, ValueError when it does not apply."""
    spec = get_kernel(kernel)
    definition = get_op(op_kind)
    # The reference's defaults (stride 1, no padding, no clamp, ...) for what the test leaves out.
    signature = inspect.signature(definition.reference)
    params = {**{k: v.default for k, v in signature.parameters.items()
                 if v.default is not inspect.Parameter.empty and v.kind == inspect.Parameter.KEYWORD_ONLY
                 and k != "rounding"}, **params}
    tensors: dict[str, Tensor] = {}
    names = []
    for i, x in enumerate(inputs):
        offset = params.get("input_offset", params.get(f"input{i + 1}_offset", 0))
        names.append(f"in{i}")
        tensors[f"in{i}"] = Tensor(f"in{i}", x.shape, "int8", _quant(1.0, -int(offset)))
    op_inputs = list(names)
    if weights is not None:
        mult = np.atleast_1d(params["out_mult"])
        scales = np.ones(mult.size, dtype=np.float32)
        axis = 3 if op_kind == "depthwise_conv2d" else 0
        zero = np.full(mult.size, -int(params.get("filter_offset", 0)))
        tensors["weights"] = Tensor("weights", weights.shape, "int8", QuantParams(scales, zero, axis),
                                    np.asarray(weights, dtype=np.int8))
        op_inputs.append("weights")
        if bias is not None:
            tensors["bias"] = Tensor("bias", np.asarray(bias).shape, "int32", QuantParams(scales, np.zeros(mult.size), 0),
                                     np.asarray(bias, dtype=np.int32))
            op_inputs.append("bias")
    out_zero = int(params.get("output_offset", -128 if op_kind == "softmax" else 0))
    out_scale = 1.0 / 256 if op_kind == "softmax" else 1.0
    args = [np.asarray(x) for x in inputs] + [tensors[n].data for n in op_inputs[len(inputs):]]
    reference_params = {**params, "rounding": rounding} if definition.rounding_sensitive else dict(params)
    expected = definition.run_int8(args, reference_params)
    # The output's shape is the reference's: explicit paddings need not be SAME or VALID.
    tensors["out"] = Tensor("out", expected.shape, "int8", _quant(out_scale, out_zero))
    op = Op(op_kind, "op", op_inputs, ["out"], dict(attrs or {}))
    graph = Graph(f"case_{name}", tensors, [op], names, ["out"])
    if input_density is not None:  # in0 as the output of an activation-pruned ReLU
        tensors["raw"] = Tensor("raw", tensors["in0"].shape, "int8", tensors["in0"].quant)
        graph.ops.insert(0, Op("max_pool2d", "pruned", ["raw"], ["in0"],
                               {"filter": (1, 1), "stride": (1, 1), "padding": "valid", "activation": "relu",
                                "act_threshold": 0, "act_density": float(input_density)}))
        graph.inputs = ["raw"]
    tail = None
    if epilogue is not None:
        kind, tail_attrs = epilogue
        tensors["final"] = Tensor("final", (), "int8", _quant(out_scale, out_zero))
        operands, values = ["out"], {"out": expected}
        if residual is not None:
            slot, skip, skip_scale, skip_zero, sum_scale, sum_zero = residual
            tensors["skip"] = Tensor("skip", skip.shape, "int8", _quant(skip_scale, skip_zero))
            tensors["final"].quant = _quant(sum_scale, sum_zero)
            operands.insert(1 - slot, "skip")
            values["skip"] = np.asarray(skip, dtype=np.int8)
            names.append("skip")
            inputs = [*inputs, values["skip"]]
            graph.inputs.append("skip")
        tail = Op(kind, "epilogue", operands, ["final"], dict(tail_attrs))
        graph.ops.append(tail)
        graph.outputs = ["final"]
        tensors["final"].shape = output_shape(graph, tail)
        tail_params = kernel_params(graph, tail)
        if get_op(kind).rounding_sensitive:
            tail_params = {**tail_params, "rounding": rounding}
        expected = get_op(kind).run_int8([values[n] for n in operands], tail_params)
    call = LayerCall(graph, op, dict(params), epilogue=tail)
    why = spec.applies(call) if check else None
    if why:
        raise ValueError(f"case {name}: {kernel} does not apply: {why}")
    return KernelCase(name, spec, call, dict(zip(names, (np.asarray(x, dtype=np.int8) for x in inputs))),
                      np.asarray(expected).reshape(call.final_output.shape), scratch_bytes)
