"""Lower a PyTorch model (torch.fx trace) to the float graph IR, TFLite layout.

Modules and calls that are IR ops are lowered by their op module (``torch_modules`` /
``torch_functions`` and ``lower_torch`` in :mod:`edge_deploy.ops`): Conv1d / Conv2d (groups 1, or
depthwise), MaxPool / AvgPool (no padding), AdaptiveAvgPool to 1 (MEAN), Linear, add, Softmax.
This module adds the rewrites that are not ops: BatchNorm folded into the preceding conv, ReLU /
ReLU6 fused into the producing op, Flatten, and Dropout / Identity, which vanish (eval mode). A
Conv1d becomes a conv2d with height 1: a ``(N, C, L)`` input is ``(1, 1, L, C)`` in the IR.
Flatten of a channels-first tensor is reproduced by permuting the next Linear's weight columns,
so the IR's logits equal the PyTorch model's.

Activation pruning (``edge_deploy.slim.activation``, threshold mode): a pruned ReLU's threshold
becomes the ``act_threshold`` attribute of the op the ReLU is fused into (float graph: outputs at
or below it become 0; :func:`edge_deploy.quantize.ptq.quantize_graph` turns it into int8 units).
"""

from __future__ import annotations


import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph
from edge_deploy.ops import GraphBuilder, OpDef, all_ops
from edge_deploy.quantize.torch_common import LoweringBase, Value, fold_batchnorm, fuse_activation, nhwc_shape, producing_op, torch_shape_of


class Lowering(LoweringBase):
    """The state of one lowering of a torch.fx trace, and what an op module's ``lower_torch``
    uses besides :class:`LoweringBase`: the node's operands and layout helpers."""

    @staticmethod
    def label(node, module) -> str:
        """``layer 'conv1' (Conv1d)``, for messages."""
        return f"layer '{node.target}' ({type(module).__name__})"

    def source(self, node) -> Value:
        """The IR value of the node's first argument."""
        return self.values[node.args[0].name]

    def operand(self, node, position: int) -> Value:
        """The IR value of argument ``position``, which must be a tensor from another layer."""
        import torch.fx

        arg = node.args[position]
        if not isinstance(arg, torch.fx.Node):
            label = f"operation '{node.name}' ({getattr(node.target, '__name__', node.target)})"
            raise EdgeDeployError(f"{label}: operand {position + 1} is {arg!r} ({type(arg).__name__}), not a tensor "
                                  "from another layer; only tensor operands can be lowered",
                                  "fold the constant into a layer's bias, or make it a layer")
        return self.values[arg.name]

    def value(self, name: str, rank: int | None = None, *, torch_shape: tuple[int, ...] | None = None) -> Value:
        """The value of IR tensor ``name``: its PyTorch shape given, or derived for ``rank``."""
        if torch_shape is None:
            torch_shape = torch_shape_of(self.builder.graph.tensor(name).shape, rank)
        return Value(name, tuple(torch_shape))



def _op_lowerings() -> tuple[dict[str, OpDef], dict[str, OpDef]]:
    """nn.Module class name -> op, and fx call name -> op, from the op registry."""
    modules = {name: op for op in all_ops() for name in op.torch_modules}
    functions = {name: op for op in all_ops() for name in op.torch_functions}
    return modules, functions


def lower_module(model, input_shape: tuple[int, ...], name: str = "model",
                 activation_thresholds: dict[str, float] | None = None,
                 activation_densities: dict[str, float] | None = None) -> Graph:
    """Trace ``model`` (eval mode) and return the equivalent float32 IR :class:`Graph`.

    ``input_shape`` is the PyTorch input shape of one sample with batch 1, e.g. ``(1, 1, 2048)``.
    ``activation_thresholds`` maps ReLU fx node names to activation-pruning thresholds (float
    units), stored as ``act_threshold`` on the op each ReLU is fused into; ``activation_densities``
    (fraction of nonzero outputs measured when the plan was made) as ``act_density``, which the
    code generator uses to choose zero-skipping kernels. Raises EdgeDeployError
    naming the first layer that cannot be lowered, or a threshold whose ReLU is not in the graph.
    """
    import torch
    import torch.fx

    model = model.eval()
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:  # torch.fx raises many types for untraceable code
        raise EdgeDeployError(f"cannot trace the model with torch.fx: {exc}", "use only traceable layers") from None
    modules = dict(traced.named_modules())
    builder = GraphBuilder(name, "float32")
    values: dict[str, Value] = {}
    lowering = Lowering(builder, values)
    users = {node.name: len(node.users) for node in traced.graph.nodes}

    def shared(tensor: str) -> bool:
        # BatchNorm (folded), Dropout and Identity make several fx nodes alias one IR tensor: it is
        # shared when any of them has another user besides the next one in the chain.
        return any(users[fx_name] > 1 for fx_name, value in values.items() if value.name == tensor)

    outputs: list[str] = []
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            shape = tuple(int(d) for d in input_shape)
            values[node.name] = Value(builder.input(node.name, nhwc_shape(shape)), shape)
        elif node.op == "call_module":
            values[node.name] = _lower_module_node(lowering, node, modules[node.target], shared)
        elif node.op in ("call_function", "call_method"):
            values[node.name] = _lower_function_node(lowering, node, shared)
        elif node.op == "output":
            result = node.args[0]
            for item in result if isinstance(result, (tuple, list)) else [result]:
                outputs.append(values[item.name].name)
        elif node.op == "get_attr":
            raise EdgeDeployError(f"node '{node.name}' reads a raw parameter, which cannot be lowered")
        if activation_thresholds and node.name in activation_thresholds:
            _attach_threshold(builder, node.name, values[node.name].name, activation_thresholds[node.name],
                              (activation_densities or {}).get(node.name))
    missing = sorted(set(activation_thresholds or {}) - {n.name for n in traced.graph.nodes})
    if missing:
        raise EdgeDeployError(f"the activation plan names ReLU nodes {missing} that are not in the traced model",
                              "re-run `edge-deploy slim -m activation` on this checkpoint")
    _fold_same_pads(builder.graph, outputs)
    return builder.finish(outputs)


def _fold_same_pads(graph: Graph, outputs: list[str]) -> None:
    """Remove every zero PAD that feeds one VALID convolution alone and equals that convolution's
    SAME padding (TensorFlow's asymmetric SAME, written in PyTorch as nn.ZeroPad2d before the
    conv): the convolution becomes SAME on the unpadded input, which reads the same windows and
    saves the padded copy and its memory."""
    from edge_deploy.numerics.windows import compute_padding

    readers: dict[str, int] = {}
    for op in graph.ops:
        for name in op.inputs:
            readers[name] = readers.get(name, 0) + 1
    producers = {op.outputs[0]: op for op in graph.ops}
    for op in list(graph.ops):
        pad = producers.get(op.inputs[0])
        if (op.kind not in ("conv2d", "depthwise_conv2d") or op.attrs["padding"] != "valid" or pad is None
                or pad.kind != "pad" or pad.attrs.get("pad_value") not in (None, 0, 0.0)
                or readers[pad.outputs[0]] != 1 or pad.outputs[0] in outputs):
            continue
        pads = [tuple(p) for p in pad.attrs["paddings"]]
        in_hw = graph.tensor(pad.inputs[0]).shape[1:3]
        same, _ = compute_padding(in_hw, graph.tensor(op.inputs[1]).shape[1:3], op.attrs["stride"],
                                  op.attrs["dilation"], "same")
        if pads[0] != (0, 0) or pads[3] != (0, 0) or (pads[1] + pads[2]) != same:
            continue
        op.inputs[0] = pad.inputs[0]
        op.attrs["padding"] = "same"
        graph.ops.remove(pad)
        del graph.tensors[pad.outputs[0]]


def _attach_threshold(builder, node_name: str, tensor: str, threshold: float, density: float | None) -> None:
    op = producing_op(builder, tensor)
    if op is None or op.attrs.get("activation") not in ("relu", "relu6"):
        raise EdgeDeployError(f"activation-pruning node '{node_name}' is not a ReLU fused into a conv, linear, "
                              "pool or add", "activation pruning applies to ReLU outputs only")
    op.attrs["act_threshold"] = float(threshold)
    if density is not None:
        op.attrs["act_density"] = float(density)


def _lower_module_node(lowering: Lowering, node, module, shared) -> Value:
    from torch import nn

    src = lowering.source(node)
    label = lowering.label(node, module)
    builder = lowering.builder
    if isinstance(module, (nn.Dropout, nn.Identity)) or type(module).__name__ == "ChangingRateDropout":
        return src
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _fold_batchnorm(builder, module, src, shared, label)
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return fuse_activation(builder, node.name, src, "relu6" if isinstance(module, nn.ReLU6) else "relu", shared, label)
    if isinstance(module, nn.Flatten):
        return _flatten(builder, node.name, src, label, module.start_dim)
    by_module, _ = _op_lowerings()
    for cls in type(module).__mro__:  # a subclass of a torch.nn layer lowers as that layer
        if cls.__module__.startswith("torch.nn") and cls.__name__ in by_module:
            return by_module[cls.__name__].lower_torch(lowering, node, module)
    supported = ", ".join(sorted(by_module)) + ", BatchNorm1d/2d, ReLU/ReLU6, Flatten, Dropout, Identity"
    raise EdgeDeployError(f"{label} cannot be lowered to int8", f"supported: {supported}, add")


def _fold_batchnorm(builder, bn, src, shared, label) -> Value:
    def param(tensor):
        return tensor.detach().double().numpy() if tensor is not None else None

    return fold_batchnorm(builder, src, shared, label, param(bn.weight), param(bn.bias), param(bn.running_mean),
                          param(bn.running_var), float(bn.eps))


def _flatten(builder, name, src, label, start_dim=1) -> Value:
    if start_dim != 1:
        raise EdgeDeployError(f"{label}: only flatten from dimension 1 can be lowered")
    shape = src.torch_shape
    if len(shape) <= 2:
        return src
    channels, spatial = shape[1], int(np.prod(shape[2:]))
    out = builder.reshape(src.name, name, (1, channels * spatial))
    # IR element (s, c) sits at s*C + c; PyTorch's flatten puts it at c*S + s.
    order = (np.arange(channels)[None, :] * spatial + np.arange(spatial)[:, None]).reshape(-1)
    return Value(out, (shape[0], channels * spatial), order)


def _lower_function_node(lowering: Lowering, node, shared) -> Value:
    import torch.nn.functional as F

    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    label = f"operation '{node.name}' ({name})"
    args = list(node.args)
    builder = lowering.builder
    if name == "relu":
        return fuse_activation(builder, node.name, lowering.operand(node, 0), "relu", shared, label)
    if target is F.relu6 or name == "relu6":
        return fuse_activation(builder, node.name, lowering.operand(node, 0), "relu6", shared, label)
    if name == "flatten":
        return _flatten(builder, node.name, lowering.operand(node, 0), label, args[1] if len(args) > 1 else 1)
    if target is F.dropout:
        return lowering.operand(node, 0)
    _, by_function = _op_lowerings()
    if name in by_function:
        return by_function[name].lower_torch(lowering, node, target)
    raise EdgeDeployError(f"{label} cannot be lowered to int8")
