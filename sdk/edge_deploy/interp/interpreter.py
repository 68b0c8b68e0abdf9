"""Run a whole IR graph on a batch: the int8 reference interpreter (and its float twin).

Each op runs its op module's reference (:mod:`edge_deploy.ops`): the int8 path with the
arguments of :func:`edge_deploy.ops.kernel_params`, so it is exactly what the generated C must
compute.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops import get_op, kernel_params

# "double": TFLM / CMSIS-NN everywhere (the default, what the firmware computes).
# "single": single rounding everywhere.
# "litert": what the ai-edge-litert 2.x interpreter's reference kernels were measured to do:
#           double rounding, except single rounding on FULLY_CONNECTED.
ROUNDING_POLICIES = ("double", "single", "litert")


def op_rounding(graph: Graph, op: Op, policy: str) -> str:
    """The rounding mode ("double" or "single") that ``policy`` gives ``op``."""
    if policy not in ROUNDING_POLICIES:
        raise EdgeDeployError(f"unknown rounding policy {policy!r}", f"use one of {', '.join(ROUNDING_POLICIES)}")
    if policy == "litert":
        return get_op(op).litert_rounding
    return policy


def _batch_inputs(graph: Graph, inputs) -> dict[str, np.ndarray]:
    if not isinstance(inputs, Mapping):
        if len(graph.inputs) != 1:
            raise EdgeDeployError(f"graph '{graph.name}' has {len(graph.inputs)} inputs; pass a dict by name")
        inputs = {graph.inputs[0]: inputs}
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if name not in inputs:
            raise EdgeDeployError(f"no value given for graph input '{name}'")
        t = graph.tensor(name)
        value = np.asarray(inputs[name])
        sample = t.shape[1:]
        if value.shape[1:] != sample:
            raise EdgeDeployError(
                f"input '{name}' has shape {value.shape}; expected (N, {', '.join(map(str, sample))})",
                "batch files hold N samples stacked on a new first axis, each shaped like the model "
                "input without its batch dimension of 1",
            )
        if t.dtype in ("int8", "uint8") and value.dtype != np.dtype(t.dtype):
            raise EdgeDeployError(f"input '{name}' must be {t.dtype}, got {value.dtype}", "quantize the inputs first")
        values[name] = value.astype(np.dtype(t.dtype) if t.dtype in ("int8", "uint8") else np.float32)
    return values


def initial_state(graph: Graph) -> dict[str, np.ndarray]:
    """The value of every variable (state) tensor when the model starts or is reset: its zero
    point (0 for an unquantized one), as TFLM's ``ResetVariableTensors``. Pass the dict to
    :func:`run_graph` as ``state`` to carry the state over successive runs; call this again to
    reset it."""
    return {name: np.full(graph.tensor(name).shape, graph.tensor(name).zero_point,
                          dtype=np.dtype(graph.tensor(name).dtype))
            for name in graph.variables()}


def run_graph(graph: Graph, inputs, *, rounding: str = "double", keep_all: bool = False,
              state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` on a batch; returns ``{tensor name: batch array}``.

    ``inputs`` is an array (single-input graph) or ``{input name: array}``, each shaped
    ``(N, *input_shape[1:])`` and int8 for an int8 graph, float32 for a float graph. ``rounding``
    is a policy from ``ROUNDING_POLICIES``. The result holds the graph outputs, or every activation
    tensor with ``keep_all``. Raises EdgeDeployError for bad inputs or an unsupported op.

    A graph with variable (state) tensors (SVDF, LSTM) runs the samples one after the other, in
    order, each seeing the state the one before left, as the firmware does over successive
    inputs. ``state`` (from :func:`initial_state`) is that state, updated in place, so a later
    call continues where this one stopped; without it the run starts from :func:`initial_state`
    (a model just started).
    """
    values = _batch_inputs(graph, inputs)
    n = next(iter(values.values())).shape[0]
    keep = graph.activations() if keep_all else graph.outputs
    if state is None:
        state = initial_state(graph)
    missing = [name for name in graph.variables() if name not in state]
    if missing:
        raise EdgeDeployError(f"no state given for variable tensor(s) {', '.join(missing)}",
                              "start from edge_deploy.interp.initial_state(graph)")
    step = 1 if state else _chunk_samples(graph)
    if n <= step:
        return _run_chunk(graph, values, n, rounding, keep, state)
    chunks = [_run_chunk(graph, {k: v[i:i + step] for k, v in values.items()}, min(step, n - i), rounding, keep,
                         state)
              for i in range(0, n, step)]
    return {name: np.concatenate([c[name] for c in chunks]) for name in keep}


# Samples run together: a big batch (a whole test set) goes through in chunks, so the
# references' intermediate arrays (a convolution's patches: MACs / output channels values per
# sample) stay within a few hundred MB whatever the batch size.
_CHUNK_WORK = 1 << 24


def _chunk_samples(graph: Graph) -> int:
    work = max((max(get_op(op).macs(graph, op), int(np.prod(graph.tensor(op.outputs[0]).shape)))
                for op in graph.ops), default=1)
    return max(1, _CHUNK_WORK // max(1, work))


def _run_chunk(graph: Graph, values: dict[str, np.ndarray], n: int, rounding: str, keep: list[str],
               state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # With variable tensors n is 1: the op updates its state argument (an array of ``state``) in place.
    values = dict(values)
    quantized = graph.is_quantized
    for op in graph.ops:
        args = [values[name] if name in values else state[name] if name in state
                else graph.tensor(name).data if name else None for name in op.inputs]
        out = graph.tensor(op.outputs[0])
        result = _run_int8(graph, op, args, rounding) if quantized else _run_float(graph, op, args)
        if "act_threshold" in op.attrs:
            result = apply_threshold(result, op.attrs["act_threshold"], out.zero_point if quantized else 0)
        lead = out.shape[0] if len(out.shape) else 1  # a scalar output (MEAN over every axis): one per sample
        values[op.outputs[0]] = result.reshape((n * lead,) + tuple(out.shape[1:]))
    return {name: values[name] for name in keep}


def run(graph: Graph, x: np.ndarray, *, rounding: str = "double",
        state: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Run a single-input, single-output graph on a batch ``x``; returns the output batch
    (``state`` as for :func:`run_graph`)."""
    if len(graph.outputs) != 1:
        raise EdgeDeployError(f"graph '{graph.name}' has {len(graph.outputs)} outputs; use run_graph")
    return run_graph(graph, x, rounding=rounding, state=state)[graph.outputs[0]]


def apply_threshold(values: np.ndarray, threshold, zero: int | float) -> np.ndarray:
    """Activation pruning after an op's fused ReLU: int8 values below ``threshold`` (int8 units)
    become the zero point ``zero``; float values at or below it become 0. Returns a new array."""
    if values.dtype == np.int8:
        return np.where(values < int(threshold), np.int8(zero), values).astype(np.int8)
    return np.where(values > float(threshold), values, np.float32(0.0)).astype(np.float32)


def _run_int8(graph: Graph, op: Op, args: list, rounding_policy: str) -> np.ndarray:
    definition = get_op(op)
    params = kernel_params(graph, op)
    if definition.rounding_sensitive:
        params["rounding"] = op_rounding(graph, op, rounding_policy)
    return definition.run_int8(args, params)


def _run_float(graph: Graph, op: Op, args: list) -> np.ndarray:
    return get_op(op).run_float(graph, op, args)
