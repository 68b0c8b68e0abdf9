"""Lower a ``torch.export`` ExportedProgram (ATen ops) to the float graph IR, TFLite layout.

Each IR op module declares the ATen operators it lowers (``aten_targets``) and lowers them
(``lower_aten``, through :class:`AtenLowering`); this module adds the rewrites that are no IR op:
batch norm folded into the preceding convolution, ReLU / ReLU6 (``hardtanh`` or ``clamp`` to
0..6) fused into the producing op, hard sigmoid as an ADD and a MUL, dropout / clone / alias that vanish in inference, and the
layout ops (flatten, view, reshape, permute, squeeze, unsqueeze).

PyTorch tensors are channels-first; the IR is NHWC (a ``(N, C, L)`` tensor is ``(N, 1, L, C)``).
A layout op is lowered by following where each element goes: when the NHWC bytes keep their order
it is a RESHAPE (a view, no code); a flatten before a linear layer folds its order into the
weight columns; only an order that can be neither becomes a run-time TRANSPOSE.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph
from edge_deploy.ops import GraphBuilder, OpDef, all_ops
from edge_deploy.quantize.torch_common import LoweringBase, Value, fold_batchnorm, fuse_activation, nhwc_shape, producing_op

# Where each PyTorch dimension of a rank-3 / rank-4 tensor sits in the IR's NHWC tensor.
_IR_AXES = {3: (0, 3, 2), 4: (0, 3, 1, 2)}


def aten_name(target) -> str:
    """``conv2d`` for ``aten.conv2d.default``, ``relu`` for the in-place ``aten.relu_.default``."""
    name = getattr(target, "__name__", str(target)).split(".")[0]
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def _op_lowerings() -> dict[str, OpDef]:
    return {name: op for op in all_ops() for name in op.aten_targets}


def source_line(node) -> str | None:
    """``model.py:12: y = self.conv(x)``: the last frame of the node's stack trace outside torch."""
    trace = node.meta.get("stack_trace") or ""
    lines = trace.strip().splitlines()
    found = None
    for i, line in enumerate(lines):
        line = line.strip()
        if line.startswith("File \"") and f"{os.sep}torch{os.sep}" not in line:
            path, _, rest = line[len("File \""):].partition("\", line ")
            number = rest.split(",")[0]
            code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith("File") else ""
            found = f"{path}:{number}: {code}".rstrip(": ")
    return found


class AtenLowering(LoweringBase):
    """The state of one lowering of a ``torch.export`` program and what an op module's
    ``lower_aten`` uses besides :class:`LoweringBase`: the constants (parameters and buffers), and
    argument and layout helpers."""

    def __init__(self, builder: GraphBuilder, values: dict[str, Value], constants: dict[str, np.ndarray]) -> None:
        super().__init__(builder, values)
        self.constants = constants

    @staticmethod
    def label(node, module=None) -> str:
        """``node 'conv2d' (aten.conv2d.default) at model.py:12: y = self.conv(x)``, for messages."""
        where = source_line(node)
        return f"node '{node.name}' ({node.target})" + (f" at {where}" if where else "")

    @staticmethod
    def arg(node, key: int | str, default: Any = None) -> Any:
        """Argument ``key`` (a position, or a name of the operator's schema) of ``node``."""
        arguments = node.target._schema.arguments
        position = key if isinstance(key, int) else next((i for i, a in enumerate(arguments) if a.name == key), None)
        if position is None:
            return default
        if position < len(node.args):
            return node.args[position]
        return node.kwargs.get(arguments[position].name, default)

    def value_of(self, node, arg) -> Value:
        """The IR value of fx node ``arg``, which must be a tensor computed by the model."""
        import torch.fx

        if not isinstance(arg, torch.fx.Node) or arg.name not in self.values:
            what = "a parameter" if isinstance(arg, torch.fx.Node) else f"{arg!r}"
            raise EdgeDeployError(f"{self.label(node)}: operand {what} is not a tensor computed by the model; only "
                                  "tensor operands can be lowered", "fold the constant into a layer, or make it a layer")
        return self.values[arg.name]

    def operand(self, node, position: int) -> str:
        """The IR tensor of argument ``position`` of an element-wise op: a tensor computed by the
        model, or a number (or one-element parameter) as a float32 constant of shape (1,)."""
        arg = self.arg(node, position)
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            value = float(arg)
        elif getattr(arg, "name", None) in self.constants and self.constants[arg.name].size == 1:
            value = float(self.constants[arg.name].reshape(-1)[0])
        else:
            return self.value_of(node, arg).name
        return self.builder.constant(f"{node.name}/operand{position}", np.array([value]), "float32")

    def tensor(self, node, position: int) -> Value:
        """The IR value of argument ``position``."""
        return self.value_of(node, self.arg(node, position))

    def weight(self, node, position: int) -> np.ndarray | None:
        """Argument ``position`` as a float64 parameter or buffer (None when the argument is None)."""
        arg = self.arg(node, position)
        if arg is None:
            return None
        if getattr(arg, "name", None) not in self.constants:
            raise EdgeDeployError(f"{self.label(node)}: argument {position + 1} must be a parameter or buffer of "
                                  "the model, not a computed tensor", "use the weights of a layer")
        return self.constants[arg.name]

    def result(self, node, name: str, column_order: np.ndarray | None = None) -> Value:
        """The IR tensor ``name`` as node ``node``'s value (PyTorch shape from the export)."""
        value = node.meta["val"]
        value = value[0] if isinstance(value, (tuple, list)) else value  # max_pool2d_with_indices: (values, indices)
        return Value(name, tuple(int(d) for d in value.shape), column_order)

    @staticmethod
    def ir_rank(rank: int) -> int:
        return 4 if rank == 3 else rank

    @staticmethod
    def ir_axis(dim: int, rank: int) -> int:
        """The NHWC axis of PyTorch dimension ``dim`` of a rank-``rank`` tensor."""
        dim %= rank
        return _IR_AXES[rank][dim] if rank in _IR_AXES else dim


def _ir_order(torch_index: np.ndarray) -> np.ndarray:
    """An array of PyTorch element numbers in IR layout."""
    if torch_index.ndim == 3:
        return torch_index.transpose(0, 2, 1)[:, None]
    if torch_index.ndim == 4:
        return torch_index.transpose(0, 2, 3, 1)
    return torch_index


# ---- rewrites that are not IR ops ---------------------------------------------------------------

def _identity(lowering: AtenLowering, node, shared) -> Value:
    return lowering.tensor(node, 0)


def _relu(lowering: AtenLowering, node, shared) -> Value:
    return fuse_activation(lowering.builder, node.name, lowering.tensor(node, 0), "relu", shared, lowering.label(node))


def _hardtanh(lowering: AtenLowering, node, shared) -> Value:
    """``hardtanh`` / ``clamp`` to 0..6 (ReLU6) or 0.. (ReLU), fused into the producing op; a clamp
    to ..6 after a fused ReLU (a decomposed graph's two clamps) makes it a ReLU6."""
    if aten_name(node.target) == "hardtanh":
        low, high = lowering.arg(node, "min_val", -1.0), lowering.arg(node, "max_val", 1.0)
    else:
        low, high = lowering.arg(node, "min", None), lowering.arg(node, "max", None)
    key = (None if low is None else float(low), None if high is None else float(high))
    src = lowering.tensor(node, 0)
    producer = producing_op(lowering.builder, src.name)
    if key == (None, 6.0) and producer is not None and producer.attrs.get("activation") == "relu" and not shared(src.name):
        producer.attrs["activation"] = "relu6"
        return src
    kinds = {(0.0, 6.0): "relu6", (0.0, None): "relu"}
    if key not in kinds:
        raise EdgeDeployError(f"{lowering.label(node)}: only a clamp to 0..6 (ReLU6) or to 0.. (ReLU) can be "
                              f"lowered, not {key[0]}..{key[1]}")
    return fuse_activation(lowering.builder, node.name, src, kinds[key], shared, lowering.label(node))


def _hardsigmoid(lowering: AtenLowering, node, shared) -> Value:
    """``aten.hardsigmoid``, relu6(x + 3) / 6: an ADD of 3 with ReLU6 fused, then a MUL by 1/6
    (with one constant operand each, both run as 256-entry tables on the board)."""
    builder, src = lowering.builder, lowering.tensor(node, 0)
    three = builder.constant(f"{node.name}/three", np.array([3.0]), "float32")
    shifted = builder.add(src.name, three, f"{node.name}/shifted", activation="relu6")
    sixth = builder.constant(f"{node.name}/sixth", np.array([1.0 / 6.0]), "float32")
    return lowering.result(node, builder.mul(shifted, sixth, node.name))


def _batch_norm(lowering: AtenLowering, node, shared) -> Value:
    """Fold ``aten.batch_norm`` / ``aten._native_batch_norm_legit_no_training`` into the convolution before it."""
    return fold_batchnorm(lowering.builder, lowering.tensor(node, 0), shared, lowering.label(node),
                          lowering.weight(node, 1), lowering.weight(node, 2), lowering.weight(node, 3),
                          lowering.weight(node, 4), float(lowering.arg(node, "eps", 1e-5)))


def _getitem(lowering: AtenLowering, node, shared) -> Value:
    """Output 0 of a folded batch norm (``_native_batch_norm_legit_no_training`` returns three)."""
    if node.args[1] != 0 or node.args[0].name not in lowering.values:
        raise EdgeDeployError(f"{lowering.label(node)}: only the first output of a batch norm can be used")
    return lowering.values[node.args[0].name]


def _relayout(lowering: AtenLowering, node, shared) -> Value:
    """flatten / view / reshape / permute / squeeze / unsqueeze: a view when the NHWC order is kept,
    a pending weight-column order when a flatten feeds a linear layer, else a TRANSPOSE."""
    src = lowering.tensor(node, 0)
    out_shape = tuple(int(d) for d in node.meta["val"].shape)
    label = lowering.label(node)
    if src.column_order is not None:
        if out_shape == src.torch_shape:
            return src
        raise EdgeDeployError(f"{label}: a flattened tensor can only feed a linear layer")
    index = np.arange(int(np.prod(src.torch_shape))).reshape(src.torch_shape)
    if aten_name(node.target) == "permute":
        moved = index.transpose([int(d) % index.ndim for d in lowering.arg(node, "dims")])
    else:
        moved = index.reshape(out_shape)
    before, after = _ir_order(index), _ir_order(moved)
    builder = lowering.builder
    if out_shape == src.torch_shape and np.array_equal(before, after):
        return src
    if np.array_equal(before.ravel(), after.ravel()):
        return lowering.result(node, builder.reshape(src.name, node.name, after.shape))
    if len(out_shape) == 2 and out_shape[0] == 1 and np.array_equal(moved.ravel(), index.ravel()):
        # A channels-first flatten: keep the NHWC bytes; the next linear layer reads them in this order.
        return lowering.result(node, builder.reshape(src.name, node.name, after.shape), before.ravel())
    for perm in itertools.permutations(range(before.ndim)):
        turned = before.transpose(perm)
        if np.array_equal(turned.ravel(), after.ravel()):
            out = builder.transpose(src.name, f"{node.name}/transpose" if turned.shape != after.shape else node.name, perm)
            if turned.shape != after.shape:
                out = builder.reshape(out, node.name, after.shape)
            return lowering.result(node, out)
    raise EdgeDeployError(f"{label}: this reshape of {src.torch_shape} to {out_shape} cannot be lowered")


_REWRITES = {
    **dict.fromkeys(("dropout", "clone", "contiguous", "alias", "detach", "lift_fresh_copy"), _identity),
    "relu": _relu, "hardtanh": _hardtanh, "clamp": _hardtanh, "hardsigmoid": _hardsigmoid,
    "batch_norm": _batch_norm, "_native_batch_norm_legit_no_training": _batch_norm, "getitem": _getitem,
    **dict.fromkeys(("flatten", "view", "reshape", "_unsafe_view", "permute", "squeeze", "unsqueeze"), _relayout),
}


def _fold_constant(lowering: AtenLowering, node) -> bool:
    """Evaluate a node that reads parameters and buffers only (the ``t`` or ``permute`` of a
    weight in a decomposed graph) once, as a constant; False when it reads a model tensor."""
    import torch
    import torch.fx

    inputs = node.all_input_nodes
    if not inputs or any(n.name not in lowering.constants for n in inputs):
        return False
    args = torch.fx.node.map_arg((node.args, node.kwargs), lambda n: torch.from_numpy(lowering.constants[n.name]))
    result = node.target(*args[0], **args[1])
    if not isinstance(result, torch.Tensor):
        return False
    lowering.constants[node.name] = result.detach().double().numpy()
    return True


def supported_aten_ops() -> list[str]:
    """Every ATen operator name the lowering accepts."""
    return sorted(set(_op_lowerings()) | set(_REWRITES) - {"getitem"})


def lower_exported(program, name: str = "model") -> Graph:
    """Lower an ExportedProgram (eval mode, one input of batch 1) to the float32 IR :class:`Graph`.

    Raises EdgeDeployError naming the first node that cannot be lowered: its ATen target, the
    user's source line (the node's ``stack_trace``) and the supported operators.
    """
    import torch

    signature = program.graph_signature
    state = program.state_dict
    named = {**signature.inputs_to_parameters, **signature.inputs_to_buffers,
             **getattr(signature, "inputs_to_lifted_tensor_constants", {})}
    sources = {**state, **getattr(program, "constants", {})}
    constants = {placeholder: sources[key].detach().double().numpy() for placeholder, key in named.items()
                 if isinstance(sources.get(key), torch.Tensor)}
    user_inputs = list(signature.user_inputs)
    if len(user_inputs) != 1:
        raise EdgeDeployError(f"the exported program takes {len(user_inputs)} inputs; edge-deploy lowers models "
                              "with one input tensor", "export a module whose forward takes one tensor")
    builder = GraphBuilder(name, "float32")
    values: dict[str, Value] = {}
    lowering = AtenLowering(builder, values, constants)
    users = {node.name: len(node.users) for node in program.graph.nodes}

    def shared(tensor: str) -> bool:
        return any(users[fx_name] > 1 for fx_name, value in values.items() if value.name == tensor)

    by_target = _op_lowerings()
    outputs: list[str] = []
    for node in program.graph.nodes:
        if node.op == "placeholder":
            if node.name in user_inputs:
                shape = tuple(int(d) for d in node.meta["val"].shape)
                if not shape or shape[0] != 1:
                    raise EdgeDeployError(f"the exported input '{node.name}' has shape {shape}; edge-deploy runs "
                                          "one sample at a time", "export with an example input of batch size 1")
                values[node.name] = Value(builder.input(node.name, nhwc_shape(shape)), shape)
        elif node.op == "call_function":
            target = aten_name(node.target)
            if _fold_constant(lowering, node):
                continue
            if target in _REWRITES:
                values[node.name] = _REWRITES[target](lowering, node, shared)
            elif target in by_target:
                values[node.name] = by_target[target].lower_aten(lowering, node)
            else:
                raise EdgeDeployError(f"{lowering.label(node)} cannot be lowered to int8",
                                      f"supported ATen operators: {', '.join(supported_aten_ops())}")
        elif node.op == "output":
            for item in node.args[0]:
                outputs.append(lowering.value_of(node, item).name)
    return builder.finish(outputs)
