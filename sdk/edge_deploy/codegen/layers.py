"""The int8 graph as the code generator sees it: one :class:`Layer` per op (or per op with the ops
fused into it), in run order.

Each layer knows the kernel chosen for it (:mod:`edge_deploy.kernels.choose`: the kernel spec,
why, its modelled cycles and the alternatives), the activation tensors it reads and writes, its
multiply-accumulates and the kernel scratch it needs. :func:`plan_steps` turns the layers into the
planner's :class:`~edge_deploy.plan.PlanStep` list: a view (reshape) is its input's memory, a
kernel that may work in place (an element-wise op; a fused ADD) may write over one of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_deploy.ctext import c_identifier
from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.kernels.base import KernelSpec, LayerCall
from edge_deploy.kernels.choose import KernelChoice, KernelPolicy, choose_kernels
from edge_deploy.kernels.library import KernelLibrary
from edge_deploy.ops import get_op
from edge_deploy.plan import PlanStep

# The runtime reports at most this many layers (ED_MAX_LAYERS in firmware/runtime/server.c), and
# the profiler's marks name at most 255.
MAX_LAYERS = 128


@dataclass(frozen=True)
class Layer:
    """One layer of generated code.

    ``index`` is the op's position in the graph; ``mark`` its position among the layers that run
    code (the profiling mark and the entry of ``layer_cycles``), or -1 for a view. ``short_name``
    is a C-identifier-safe name for the device's layer list; ``c_name`` the layer's function.
    ``call`` is the op (and the op fused after it, ``call.epilogue``) with its kernel parameters;
    ``spec`` and ``choice`` the kernel and why (None for a view); ``library`` where the kernel's
    function comes from (None: edge-deploy's own; an upstream CMSIS-NN checkout with --cmsis-nn).
    ``inputs`` are the activations it reads (planned in the arena); ``states`` the variable
    tensors it reads and updates in place (the op's ``state_inputs``, in their own storage).
    """

    index: int
    mark: int
    call: LayerCall
    spec: KernelSpec | None
    choice: KernelChoice | None
    short_name: str
    c_name: str
    inputs: tuple[str, ...]
    output: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    macs: int
    scratch_bytes: int
    library: KernelLibrary | None = None
    states: tuple[str, ...] = ()

    @property
    def op(self) -> Op:
        """The layer's (first) op."""
        return self.call.op

    @property
    def fused(self) -> tuple[Op, ...]:
        """Ops fused into this layer after its op (their outputs-but-last are never stored)."""
        return (self.call.epilogue,) if self.call.epilogue is not None else ()

    @property
    def kernel(self) -> str:
        """The C function the layer calls ("" for a view)."""
        return self.spec.name if self.spec is not None else ""

    @property
    def is_view(self) -> bool:
        """True for a view (reshape): the output is the input's memory, no code runs."""
        return self.spec is None


def short_layer_name(op_name: str) -> str:
    """A short, readable name for an op from its (often long, TFLite-generated) name.

    ``functional_1/conv2d_1/Relu;functional_1/conv2d_1/convolution`` -> ``conv2d_1``;
    ``conv1`` -> ``conv1``.
    """
    parts = [p for p in op_name.split(";")[0].split("/") if p]
    if not parts:
        return "layer"
    return c_identifier(parts[-2] if len(parts) >= 2 else parts[-1], limit=24)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    # A suffixed name may collide with an original one: repeat until stable.
    return out if len(set(out)) == len(out) else _unique(out)


def graph_layers(graph: Graph, policy: KernelPolicy | None = None) -> list[Layer]:
    """The layers of a validated int8 ``graph`` in run order, each with its kernel chosen under
    ``policy`` (default: every kernel allowed, :class:`KernelPolicy`).

    Raises EdgeDeployError when the graph is not int8, has more than one input or output, has an
    op no allowed kernel can run (naming each kernel's reason), or has more layers than the
    runtime can report.
    """
    if not graph.is_quantized:
        raise EdgeDeployError(f"model '{graph.name}' is not int8", hint="quantize it first (edge_deploy.quantize)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise EdgeDeployError(
            f"model '{graph.name}' has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
            "the firmware model interface takes exactly one of each",
            hint="export the model with a single input and a single output",
        )
    if not graph.ops:
        raise EdgeDeployError(f"model '{graph.name}' has no ops", hint="export a model with at least one layer")
    shorts = _unique([short_layer_name(op.name) for op in graph.ops])
    index_of = {op.name: i for i, op in enumerate(graph.ops)}
    layers, mark = [], 0
    policy = policy or KernelPolicy()
    for chosen in choose_kernels(graph, policy):
        op, call, view = chosen.call.op, chosen.call, chosen.kernel is None
        name = shorts[chosen.index]
        if call.epilogue is not None:
            name = c_identifier(f"{name}_{shorts[index_of[call.epilogue.name]]}", limit=40)
        activations, states = call_tensors(call)
        output = call.final_output.name
        layers.append(Layer(
            index=chosen.index, mark=-1 if view else mark, call=call, spec=chosen.kernel, choice=chosen.choice,
            short_name=name, c_name=f"view_{name}" if view else f"l{mark:02d}_{name}",
            inputs=activations, output=output, input_shapes=tuple(graph.tensor(n).shape for n in activations),
            output_shape=graph.tensor(output).shape, macs=get_op(op).macs(graph, op),
            scratch_bytes=0 if view else policy.scratch_bytes(chosen.kernel, call),
            library=None if view else policy.provider(chosen.kernel), states=states))
        mark += 0 if view else 1
    if mark > MAX_LAYERS:
        raise EdgeDeployError(f"model '{graph.name}' has {mark} layers; the runtime reports at most {MAX_LAYERS}",
                              hint="merge or remove layers")
    return layers


def layer_tensors(graph: Graph, op: Op) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(activations, states)``: the non-constant tensors ``op`` reads, the variable (state)
    tensors apart."""
    names = [n for n in op.inputs if n and not graph.tensor(n).is_constant]
    return (tuple(n for n in names if not graph.tensor(n).variable),
            tuple(n for n in names if graph.tensor(n).variable))


def call_tensors(call: LayerCall) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """:func:`layer_tensors` of the call's op, then the other activations its epilogue reads (a
    fused ADD's second operand)."""
    activations, states = layer_tensors(call.graph, call.op)
    return activations + call.epilogue_inputs, states


def plan_steps(layers: list[Layer]) -> list[PlanStep]:
    """The planner's steps for ``layers``: views as aliases, a layer whose kernel may write over
    one of its inputs (an element-wise op over its first; a fused ADD over its other operand; a
    1x1 convolution streaming over its input) in place."""
    steps = []
    for layer in layers:
        over = None if layer.is_view else layer.spec.in_place(layer.call, layer.inputs)
        steps.append(PlanStep(name=layer.c_name, inputs=layer.inputs, outputs=(layer.output,),
                              scratch=layer.scratch_bytes, alias=layer.is_view, in_place=over is not None,
                              in_place_input=over.input if over else 0, grows=bool(over and over.grows)))
    return steps


def tensor_sizes(graph: Graph) -> dict[str, int]:
    """Bytes of every activation tensor of ``graph``."""
    return {name: graph.tensor(name).nbytes for name in graph.activations()}
