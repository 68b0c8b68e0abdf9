"""The op registry: one module per IR op under ``edge_deploy/ops/`` (see :mod:`edge_deploy.ops.base`).

Modules are discovered (``pkgutil``), so adding an op adds a file. Views of the registry:

* :func:`get_op` / :func:`all_ops` / :func:`op_kinds`: the registered :class:`OpDef` instances;
* :func:`validate` / :func:`infer_shapes` / :func:`output_shape`: graph checks, through each op;
* :func:`kernel_params`: an int8 op's kernel arguments (the interpreter's and the C's numbers);
* :class:`GraphBuilder` (:mod:`edge_deploy.ops.builder`): build graphs op by op.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from functools import cache
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops.base import MAX_OP_MACS, MAX_TENSOR_ELEMENTS, PRUNING_ATTRS, OpDef, op_error


@cache
def _registry() -> dict[str, OpDef]:
    ops: dict[str, OpDef] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in ("base", "builder"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        definition = getattr(module, "OP", None)
        if not isinstance(definition, OpDef):
            raise RuntimeError(f"edge_deploy.ops.{info.name} defines no OP (an OpDef instance)")
        if definition.kind in ops:
            raise RuntimeError(f"op kind {definition.kind!r} is defined twice")
        ops[definition.kind] = definition
    return ops


def all_ops() -> list[OpDef]:
    """Every registered op, sorted by kind."""
    return [_registry()[k] for k in sorted(_registry())]


def op_kinds() -> tuple[str, ...]:
    """The registered op kinds, sorted."""
    return tuple(sorted(_registry()))


def get_op(kind_or_op: str | Op) -> OpDef:
    """The :class:`OpDef` of an op kind (or of an :class:`Op`). Raises EdgeDeployError for an
    unknown kind, naming the op when one is given."""
    kind = kind_or_op.kind if isinstance(kind_or_op, Op) else kind_or_op
    found = _registry().get(kind)
    if found is None:
        hint = f"supported kinds: {', '.join(op_kinds())}"
        if isinstance(kind_or_op, Op):
            raise op_error(kind_or_op, "unsupported op kind", hint)
        raise EdgeDeployError(f"unknown op kind {kind!r}", hint)
    return found


def output_shape(graph: Graph, op: Op) -> tuple[int, ...]:
    """Compute ``op``'s output shape from its input shapes and attributes.

    Raises EdgeDeployError naming the op when shapes or attributes are inconsistent.
    """
    return tuple(int(d) for d in get_op(op).output_shape(graph, op))


def kernel_params(graph: Graph, op: Op) -> dict[str, Any]:
    """Keyword arguments of ``op``'s int8 reference (its op module's ``*_s8`` function), which the
    generated C is fed too. Excludes the tensors and ``rounding``. Raises EdgeDeployError for an
    op that is not quantized."""
    # The 8-bit ends must be quantized (a float32 end is a QUANTIZE's input or a DEQUANTIZE's output).
    ends = [t for t in (graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])) if t.dtype != "float32"]
    if not ends or any(t.quant is None for t in ends):
        raise EdgeDeployError(f"op '{op.name}' ({op.kind}) is not quantized", "quantize the graph first")
    return get_op(op).kernel_params(graph, op)


def infer_shapes(graph: Graph) -> Graph:
    """Recompute every op output's shape in place (ops in order); returns ``graph``.

    Raises EdgeDeployError naming the first op whose shapes do not fit.
    """
    for op in graph.ops:
        get_op(op).check_structure(graph, op)
        graph.tensor(op.outputs[0]).shape = output_shape(graph, op)
    return graph


def _check_size(graph: Graph, op: Op, definition: OpDef) -> None:
    elements = math.prod(graph.tensor(op.outputs[0]).shape)
    macs = definition.macs(graph, op)
    if elements > MAX_TENSOR_ELEMENTS or macs > MAX_OP_MACS:
        raise op_error(op, f"output of {elements:,} elements and {macs:,} MACs is beyond any microcontroller "
                           f"model (limits {MAX_TENSOR_ELEMENTS:,} elements, {MAX_OP_MACS:,} MACs per layer)",
                       "the file is probably corrupt; export it again")


def _check_states(graph: Graph, op: Op, definition: OpDef, variables: set[str]) -> None:
    """Variable tensors only at the op's ``state_inputs``, and those inputs variable."""
    for position, name in enumerate(op.inputs):
        if not name:
            continue
        if position in definition.state_inputs and name not in variables:
            raise op_error(op, f"input {position} ('{name}') is the op's state and must be a variable tensor",
                           "convert the model again: TFLite marks a recurrent op's state is_variable")
        if position not in definition.state_inputs and name in variables:
            raise op_error(op, f"reads the variable (state) tensor '{name}' as input {position}, which is not a "
                               "state input of the op")
        if name in variables and graph.tensor(name).dtype not in ("int8", "int16", "float32"):
            raise op_error(op, f"state '{name}' is {graph.tensor(name).dtype}; a state is int8, int16 or float32")


def validate(graph: Graph) -> Graph:
    """Check the whole graph: structure, execution order, shapes and (if int8) quantization.

    Returns ``graph``. Raises EdgeDeployError naming the bad op or tensor and what is wrong.
    """
    if not graph.ops or not graph.inputs or not graph.outputs:
        raise EdgeDeployError(f"the graph has {len(graph.ops)} ops, {len(graph.inputs)} inputs and "
                              f"{len(graph.outputs)} outputs; a model needs at least one of each")
    constants = {n for n, t in graph.tensors.items() if t.is_constant}
    variables = {n for n, t in graph.tensors.items() if t.variable}
    available = set(graph.inputs) | constants | variables
    for role, names in (("input", graph.inputs), ("output", graph.outputs)):
        for name in names:
            graph.tensor(name)
            if name in constants or name in variables:
                what = "a constant" if name in constants else "a variable (state)"
                raise EdgeDeployError(f"graph {role} '{name}' is {what} tensor; {role}s must be computed activations")
    for name in graph.inputs:
        shape = graph.tensor(name).shape
        if any(d < 1 for d in shape):
            raise EdgeDeployError(f"graph input '{name}' has a dynamic or empty shape {shape}",
                                  "export the model with a fixed input shape (batch 1)")
    quantized = graph.is_quantized
    for op in graph.ops:
        definition = get_op(op)
        definition.check_structure(graph, op)
        for name in op.inputs:
            if name and name not in available:
                raise op_error(op, f"reads '{name}' before any op produces it (ops are not in execution order)")
        _check_states(graph, op, definition, variables)
        live = [name for name in op.inputs if name and name not in constants]
        if not live or (op.inputs[0] in constants and not definition.constant_operands):
            raise op_error(op, f"reads the constant tensor '{op.inputs[0]}' as its data input; an op must compute "
                               "on an activation", "fold the constant into the model before converting")
        expected = output_shape(graph, op)
        out = graph.tensor(op.outputs[0])
        if tuple(out.shape) != tuple(expected):
            raise op_error(op, f"output '{out.name}' has shape {out.shape}, inference gives {expected}")
        _check_size(graph, op, definition)
        available.update(op.outputs)
        if quantized:
            definition.check_activations(graph, op)
            definition.check_quantized(graph, op)
    for name in graph.outputs:
        if name not in available:
            raise EdgeDeployError(f"graph output '{name}' is never produced")
    return graph


from edge_deploy.ops.builder import GraphBuilder  # noqa: E402  (the builder dispatches through the registry)

__all__ = ["PRUNING_ATTRS", "GraphBuilder", "OpDef", "all_ops", "get_op", "infer_shapes", "kernel_params",
           "op_kinds", "output_shape", "validate"]
