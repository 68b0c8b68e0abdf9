"""The int8 graph as the code generator sees it: one :class:`Layer` per op, in run order.

Each layer knows the CMSIS-NN function it calls, the activation tensors it reads and writes, its
multiply-accumulates and the kernel scratch it needs. :func:`plan_steps` turns the layers into the
planner's :class:`~edge_deploy.plan.PlanStep` list: a reshape is a view of its input (no code, no
memory), an element-wise add may write over its first input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.plan import PlanStep

# IR op kind -> CMSIS-NN s8 function (fully connected picks the per-channel variant itself).
KERNELS = {
    "conv2d": "arm_convolve_s8",
    "depthwise_conv2d": "arm_depthwise_conv_s8",
    "fully_connected": "arm_fully_connected_s8",
    "max_pool2d": "arm_max_pool_s8",
    "avg_pool2d": "arm_avgpool_s8",
    "add": "arm_elementwise_add_s8",
    "softmax": "arm_softmax_s8",
    "pad": "arm_pad_s8",
    "mean": "ed_mean_s8",  # CMSIS-NN has no MEAN: edge-deploy's own (firmware/include/ed_reduce.h)
}
VIEW_KINDS = ("reshape",)
# The runtime reports at most this many layers (ED_MAX_LAYERS in firmware/runtime/server.c), and
# the profiler's marks name at most 255.
MAX_LAYERS = 128


@dataclass(frozen=True)
class Layer:
    """One op of the graph as generated code sees it.

    ``index`` is the op's position in the graph; ``mark`` its position among the layers that run
    code (the profiling mark and the entry of ``layer_cycles``), or -1 for a view. ``short_name``
    is a C-identifier-safe name for the device's layer list; ``c_name`` the layer's function.
    """

    index: int
    mark: int
    op: Op
    short_name: str
    c_name: str
    kernel: str
    inputs: tuple[str, ...]
    output: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    macs: int
    scratch_bytes: int
    # For conv2d / fully_connected: the dense-or-sparse decision (edge_deploy.codegen.sparse).
    sparsity: Any = None
    # For fully_connected reading pruned activations: edge_deploy.codegen.skip_zero's choice.
    skip_zero: Any = None
    # For a dense conv2d: edge_deploy.codegen.winograd's choice (Winograd F(4,3) or direct).
    winograd: Any = None
    # A max pool fused into this (Winograd) conv: the pool op; the layer then writes the pool's
    # output, and the pool has no layer of its own.
    fused_pool: Op | None = None

    @property
    def is_view(self) -> bool:
        """True for a reshape: the output is the input's memory, no code runs."""
        return self.op.kind in VIEW_KINDS


def c_identifier(text: str, limit: int = 40) -> str:
    """``text`` reduced to a lower-case C identifier of at most ``limit`` characters."""
    ident = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()[:limit].rstrip("_")
    if not ident or ident[0].isdigit():
        ident = "t_" + ident
    return ident


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


def _macs(graph: Graph, op: Op) -> int:
    out = graph.tensor(op.outputs[0]).shape
    if op.kind == "conv2d":
        w = graph.tensor(op.inputs[1]).shape
        return int(np.prod(out)) * w[1] * w[2] * w[3]
    if op.kind == "depthwise_conv2d":
        w = graph.tensor(op.inputs[1]).shape
        return int(np.prod(out)) * w[1] * w[2]
    if op.kind == "fully_connected":
        w = graph.tensor(op.inputs[1]).shape
        return int(np.prod(out)) * w[1]
    return 0


def scratch_bytes(graph: Graph, op: Op) -> int:
    """Scratch bytes to reserve for ``op``'s kernel: the largest that either kernel path of
    ``firmware/kernels`` or upstream CMSIS-NN on a Cortex-M4 asks for, so the same generated
    sources link against any of them."""
    if op.kind == "conv2d":
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        return 2 * w[1] * w[2] * x[3] * 2  # two int16 im2col columns (arm_convolve_s8_get_buffer_size)
    if op.kind == "avg_pool2d":
        return 4 * graph.tensor(op.inputs[0]).shape[3]  # upstream's DSP path: one int32 per channel
    return 0


def _sparsity_choice(graph: Graph, op: Op, mode: str):
    """The dense-or-sparse decision for a conv2d / fully_connected op (None for other ops)."""
    from edge_deploy.codegen.sparse import choose_kernel, kernel_rows
    from edge_deploy.codegen.sparse_cost import LayerShape

    if op.kind not in ("conv2d", "fully_connected"):
        return None
    w = graph.tensor(op.inputs[1])
    rows = kernel_rows(w.data, op.kind)
    out = graph.tensor(op.outputs[0]).shape
    if op.kind == "conv2d":
        from edge_deploy.codegen.sparse import conv_row_elems
        from edge_deploy.ir.params import kernel_params

        p = kernel_params(graph, op)
        shape = LayerShape(positions=int(np.prod(out[1:3])), batches=int(out[0]), channels=int(out[3]),
                           row_length=rows.shape[1],
                           row_elems=conv_row_elems(graph.tensor(op.inputs[0]).shape, w.shape, out, p["stride"],
                                                    p["padding"], p["dilation"]))
    else:
        shape = LayerShape(positions=1, batches=int(np.prod(out)) // int(out[-1]), channels=int(out[-1]),
                           row_length=rows.shape[1])
    return choose_kernel(op.kind, rows, shape, mode, filter_offset=int(np.abs(w.quant.zero_point).max()))


def _skip_zero(graph: Graph, op: Op, mode: str, sparsity):
    """The zero-skipping decision for a dense fully connected op on pruned activations; like the
    sparse kernels, only when ``mode`` lets edge-deploy's own kernels in (not "off")."""
    from edge_deploy.codegen.skip_zero import skip_zero_choice

    if mode == "off" or (sparsity is not None and sparsity.choice != "dense"):
        return None
    return skip_zero_choice(graph, op)


# Model cycles per executed instruction of the sparse kernels (TICNN Scalpel build: 1,014,378
# cycles for 675,298 instructions; unstructured: 1.47), to set their instruction estimates
# against the Winograd kernel's cycle estimates.
SPARSE_CYCLES_PER_INSTRUCTION = 1.5


def _sparse_or_winograd(graph: Graph, op: Op, sparsity, sparse: str, winograd: str):
    """``(sparsity, winograd choice)``: the Winograd choice of a dense conv (None for other ops
    and sparse layers), where a sparse conv choice is turned back to dense when the dense
    Winograd kernel would run fewer modelled cycles (both modes auto)."""
    import dataclasses

    if sparsity is None or sparsity.choice == "dense":
        return sparsity, _winograd_choice(graph, op, winograd, sparsity)
    if op.kind != "conv2d" or sparse != "auto" or winograd != "auto":
        return sparsity, None
    dense = _winograd_choice(graph, op, "auto", None)
    if dense is None or not dense.use:
        return sparsity, None
    instructions = sparsity.estimated_instructions[sparsity.choice]
    sparse_cycles = int(instructions * SPARSE_CYCLES_PER_INSTRUCTION)
    wino_cycles = dense.estimated_cycles["winograd"]
    if wino_cycles >= sparse_cycles:
        return sparsity, None
    reason = (f"dense (Winograd): {wino_cycles:,} modelled cycles vs {sparsity.choice} about {sparse_cycles:,} "
              f"({instructions:,} instructions x {SPARSE_CYCLES_PER_INSTRUCTION}), "
              f"{sparsity.zero_groups}/{sparsity.total_groups} groups of 4 zero")
    return dataclasses.replace(sparsity, choice="dense", reason=reason), dense


def _winograd_choice(graph: Graph, op: Op, mode: str, sparsity):
    """Winograd or direct for a dense conv2d (None for other ops and sparse layers)."""
    from edge_deploy.codegen.winograd import choose
    from edge_deploy.ir.params import kernel_params

    if op.kind != "conv2d" or (sparsity is not None and sparsity.choice != "dense"):
        return None
    params = kernel_params(graph, op)
    return choose(graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape,
                  graph.tensor(op.outputs[0]).shape, tuple(params["stride"]), tuple(params["dilation"]),
                  _macs(graph, op), mode)


def _fusable_pool(graph: Graph, op: Op, consumers: dict[str, list[int]]) -> Op | None:
    """The max pool (window 2, stride 2 along the row, no padding, no activation of its own)
    that alone reads ``op``'s output, when the Winograd kernel can fuse it exactly: the output
    is not a model output, pool and conv share quantization, every requantization is a positive
    multiplier with a right shift (then requantization is monotonic, so the maximum can be taken
    before it), and an activation threshold (activation pruning), if any, sits on a ReLU output
    (then it is monotonic too, and applies after the pool alike). Else None."""
    from edge_deploy.ir.params import kernel_params

    out = op.outputs[0]
    users = consumers.get(out, [])
    if out in graph.outputs or len(users) != 1:
        return None
    pool = graph.ops[users[0]]
    if pool.kind != "max_pool2d" or pool.inputs[0] != out:
        return None
    pp = kernel_params(graph, pool)
    if (tuple(pp["filter_hw"]) != (1, 2) or tuple(pp["stride"]) != (1, 2) or any(pp["padding"])
            or (pp["act_min"], pp["act_max"]) != (-128, 127)):
        return None
    y, z = graph.tensor(out), graph.tensor(pool.outputs[0])
    if float(y.scale) != float(z.scale) or y.zero_point != z.zero_point:
        return None
    cp = kernel_params(graph, op)
    if (np.asarray(cp["out_mult"]) <= 0).any() or (np.asarray(cp["out_shift"]) > 0).any():
        return None
    if "act_threshold" in op.attrs and cp["act_min"] < y.zero_point:
        return None  # the threshold is monotonic only on outputs >= the zero point
    return pool


def _sparse_scratch_bytes(graph: Graph, op: Op) -> int:
    """Scratch of the sparse kernels (ed_*_sparse_s8_get_buffer_size): for a conv four widened
    input patches plus the widened input row of a 1-D conv
    (:func:`edge_deploy.codegen.sparse.conv_scratch_bytes`), one widened input row for a fully
    connected layer."""
    w = graph.tensor(op.inputs[1]).shape
    if op.kind == "conv2d":
        from edge_deploy.codegen.sparse import conv_scratch_bytes
        from edge_deploy.ir.params import kernel_params

        p = kernel_params(graph, op)
        return conv_scratch_bytes(graph.tensor(op.inputs[0]).shape, w, graph.tensor(op.outputs[0]).shape,
                                  p["stride"], p["padding"], p["dilation"])
    return -(-int(np.prod(w[1:])) // 4) * 4 * 2


def _check_supported(graph: Graph, op: Op) -> None:
    if op.kind not in KERNELS and op.kind not in VIEW_KINDS:
        raise EdgeDeployError(
            f"op '{op.name}' ({op.kind}) has no CMSIS-NN kernel in the code generator",
            hint=f"supported ops: {', '.join(sorted([*KERNELS, *VIEW_KINDS]))}; change the model to avoid it",
        )
    if op.kind == "add":
        a, b = (graph.tensor(n).shape for n in op.inputs)
        if a != b:
            raise EdgeDeployError(
                f"op '{op.name}' (add) broadcasts {a} against {b}; arm_elementwise_add_s8 needs equal shapes",
                hint="make both inputs the same shape in the model",
            )
    if op.kind == "mean" and len(graph.tensor(op.inputs[0]).shape) > 4:
        raise EdgeDeployError(f"op '{op.name}' (mean) reduces a tensor of rank > 4; ed_mean_s8 takes up to NHWC",
                              hint="reshape the tensor to at most 4 dimensions before the mean")
    if op.kind == "pad":
        pads = op.attrs["paddings"]
        x = graph.tensor(op.inputs[0]).shape
        if len(x) > 4 or tuple(pads[0]) != (0, 0):
            raise EdgeDeployError(f"op '{op.name}' (pad) pads the batch dimension or a tensor of rank > 4",
                                  hint="pad only the H, W and C dimensions")


def graph_layers(graph: Graph, sparse: str = "off", winograd: str = "off",
                 direct_layers: frozenset[str] = frozenset()) -> list[Layer]:
    """The layers of a validated int8 ``graph`` in run order.

    ``sparse`` ("off", "auto", "force") lets conv2d and fully_connected layers use the sparse
    kernels of ``firmware/include/ed_sparse.h`` (see :mod:`edge_deploy.codegen.sparse`); each
    such layer's ``sparsity`` records the choice and why. ``winograd`` ("off", "auto", "force")
    lets dense 1-D conv2d layers use ``ed_convolve_1d_winograd_s8``
    (:mod:`edge_deploy.codegen.winograd`), recorded in ``winograd``; the ops named in
    ``direct_layers`` keep the direct kernel (the build's flash fallback). Raises EdgeDeployError when the graph
    is not int8, has more than one input or output, uses an op the generator has no kernel for,
    has more layers than the runtime can report, or ``sparse`` is unknown.
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
    for op in graph.ops:
        _check_supported(graph, op)
    shorts = _unique([short_layer_name(op.name) for op in graph.ops])
    consumers = graph.consumers()
    fused: set[int] = set()  # max pools fused into the conv before them
    layers, mark = [], 0
    for index, (op, short) in enumerate(zip(graph.ops, shorts)):
        if index in fused:
            continue
        view = op.kind in VIEW_KINDS
        kernel = "" if view else KERNELS[op.kind]
        if op.kind == "fully_connected" and graph.tensor(op.inputs[1]).quant.per_channel:
            kernel = "arm_fully_connected_per_channel_s8"
        activations = tuple(n for n in op.inputs if n and not graph.tensor(n).is_constant)
        sparsity, wino = _sparse_or_winograd(graph, op, _sparsity_choice(graph, op, sparse), sparse, winograd)
        scratch = scratch_bytes(graph, op)
        if sparsity is not None and sparsity.choice != "dense":
            from edge_deploy.codegen.sparse import SPARSE_KERNELS

            kernel = SPARSE_KERNELS[(op.kind, sparsity.choice)]
            scratch = _sparse_scratch_bytes(graph, op)
        if wino is not None and wino.use and op.name in direct_layers:
            import dataclasses

            wino = dataclasses.replace(wino, use=False, reason="direct: the Winograd filters would not fit the flash "
                                       f"(modelled {wino.reason})")
        if wino is not None and wino.use:
            from edge_deploy.codegen.winograd import KERNEL as WINOGRAD_KERNEL

            kernel, scratch = WINOGRAD_KERNEL, wino.geometry.scratch_bytes
        # a group-sparse 1-D conv also takes the pool after it in (ed_convolve_group_sparse_maxpool2_s8)
        sparse_pool = (sparsity is not None and sparsity.choice == "group4" and op.kind == "conv2d"
                       and graph.tensor(op.outputs[0]).shape[1] == 1)
        pool = _fusable_pool(graph, op, consumers) if (wino is not None and wino.use) or sparse_pool else None
        output, name = op.outputs[0], short
        if pool is not None:
            from edge_deploy.codegen.sparse import SPARSE_POOL_KERNEL
            from edge_deploy.codegen.winograd import POOL_KERNEL

            pool_index = consumers[op.outputs[0]][0]
            fused.add(pool_index)
            kernel, output = SPARSE_POOL_KERNEL if sparse_pool else POOL_KERNEL, pool.outputs[0]
            name = c_identifier(f"{short}_{shorts[pool_index]}", limit=40)
        skip = _skip_zero(graph, op, sparse, sparsity)
        if skip is not None and skip.chosen:
            from edge_deploy.codegen.skip_zero import SKIP_ZERO_KERNEL, skip_zero_scratch_bytes

            kernel, scratch = SKIP_ZERO_KERNEL, skip_zero_scratch_bytes(graph, op)
        layers.append(Layer(
            index=index, mark=-1 if view else mark, op=op, short_name=name,
            c_name=f"view_{name}" if view else f"l{mark:02d}_{name}", kernel=kernel, inputs=activations, output=output,
            input_shapes=tuple(graph.tensor(n).shape for n in activations),
            output_shape=graph.tensor(output).shape, macs=_macs(graph, op),
            scratch_bytes=scratch, sparsity=sparsity, skip_zero=skip, winograd=wino, fused_pool=pool))
        mark += 0 if view else 1
    if mark > MAX_LAYERS:
        raise EdgeDeployError(f"model '{graph.name}' has {mark} layers; the runtime reports at most {MAX_LAYERS}",
                              hint="merge or remove layers")
    return layers


def plan_steps(layers: list[Layer]) -> list[PlanStep]:
    """The planner's steps for ``layers``: reshapes as aliases, adds in place over input 1."""
    return [PlanStep(name=layer.c_name, inputs=layer.inputs, outputs=(layer.output,),
                     scratch=layer.scratch_bytes, alias=layer.is_view, in_place=layer.op.kind == "add")
            for layer in layers]


def tensor_sizes(graph: Graph) -> dict[str, int]:
    """Bytes of every activation tensor of ``graph``."""
    return {name: graph.tensor(name).nbytes for name in graph.activations()}
