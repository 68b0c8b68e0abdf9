"""Lower a PyTorch model (torch.fx trace) to the float graph IR, TFLite layout.

Supported: Conv1d / Conv2d (groups 1, or depthwise), BatchNorm folded into the preceding conv,
ReLU / ReLU6 fused into the producing op, MaxPool / AvgPool (no padding), AdaptiveAvgPool to 1
(MEAN), Flatten, Linear, add, Softmax; Dropout and Identity vanish (eval mode). A Conv1d becomes a
conv2d with height 1: a ``(N, C, L)`` input is ``(1, 1, L, C)`` in the IR. Flatten of a
channels-first tensor is reproduced by permuting the next Linear's weight columns, so the IR's
logits equal the PyTorch model's.

Activation pruning (``edge_deploy.slim.activation``, threshold mode): a pruned ReLU's threshold
becomes the ``act_threshold`` attribute of the op the ReLU is fused into (float graph: outputs at
or below it become 0; :func:`edge_deploy.quantize.ptq.quantize_graph` turns it into int8 units).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.ops import compute_padding
from edge_deploy.ir.builder import GraphBuilder
from edge_deploy.ir.graph import Graph


@dataclass
class _Value:
    """What an fx node is in the IR: a tensor name, its torch shape, and a pending Linear
    column permutation (set by a channels-first flatten)."""

    name: str
    torch_shape: tuple[int, ...]
    column_order: np.ndarray | None = None


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
    values: dict[str, _Value] = {}
    users = {node.name: len(node.users) for node in traced.graph.nodes}

    def shared(tensor: str) -> bool:
        # BatchNorm (folded), Dropout and Identity make several fx nodes alias one IR tensor: it is
        # shared when any of them has another user besides the next one in the chain.
        return any(users[fx_name] > 1 for fx_name, value in values.items() if value.name == tensor)

    outputs: list[str] = []
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            shape = tuple(int(d) for d in input_shape)
            values[node.name] = _Value(builder.input(node.name, _nhwc_shape(shape)), shape)
        elif node.op == "call_module":
            values[node.name] = _lower_module_node(builder, node, modules[node.target], values, shared, torch)
        elif node.op in ("call_function", "call_method"):
            values[node.name] = _lower_function_node(builder, node, values, shared, torch)
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
    return builder.finish(outputs)


def _attach_threshold(builder, node_name: str, tensor: str, threshold: float, density: float | None) -> None:
    op = _producer(builder, tensor)
    if op is None or op.attrs.get("activation") not in ("relu", "relu6"):
        raise EdgeDeployError(f"activation-pruning node '{node_name}' is not a ReLU fused into a conv, linear, "
                              "pool or add", "activation pruning applies to ReLU outputs only")
    op.attrs["act_threshold"] = float(threshold)
    if density is not None:
        op.attrs["act_density"] = float(density)


def _nhwc_shape(torch_shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(torch_shape) == 3:
        return (torch_shape[0], 1, torch_shape[2], torch_shape[1])
    if len(torch_shape) == 4:
        return (torch_shape[0], torch_shape[2], torch_shape[3], torch_shape[1])
    return tuple(torch_shape)


def _torch_shape(nhwc: tuple[int, ...], rank: int) -> tuple[int, ...]:
    if rank == 3:
        return (nhwc[0], nhwc[3], nhwc[2])
    if rank == 4:
        return (nhwc[0], nhwc[3], nhwc[1], nhwc[2])
    return tuple(nhwc)


def _pair(value, rank: int, height: int = 1) -> tuple[int, int]:
    # A 1-D setting becomes (height, value): height 1 for sizes and strides, 0 for padding.
    value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if rank == 3:
        return (height, int(value[0]))
    return (int(value[0]), int(value[-1]))


def _any_not(value, expected: int) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return any(int(v) != expected for v in values)


def _lower_module_node(builder, node, module, values, shared, torch) -> _Value:
    from torch import nn

    src = values[node.args[0].name]
    rank = len(src.torch_shape)
    label = f"layer '{node.target}' ({type(module).__name__})"
    if isinstance(module, (nn.Dropout, nn.Identity)) or type(module).__name__ == "ChangingRateDropout":
        return src
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return _conv(builder, node, module, src, rank, label)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _fold_batchnorm(builder, module, src, shared, label)
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return _fuse_activation(builder, node.name, src, "relu6" if isinstance(module, nn.ReLU6) else "relu", shared, label)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        if _any_not(getattr(module, "padding", 0), 0) or module.ceil_mode or _any_not(getattr(module, "dilation", 1), 1):
            raise EdgeDeployError(f"{label}: only pooling without padding, dilation or ceil_mode can be lowered")
        kind = "max_pool2d" if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)) else "avg_pool2d"
        stride = module.stride if module.stride is not None else module.kernel_size
        out = builder.pool(src.name, node.name, kind, filter_hw=_pair(module.kernel_size, rank), stride=_pair(stride, rank))
        return _Value(out, _torch_shape(builder.graph.tensor(out).shape, rank))
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        size = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,)
        if any(s != 1 for s in size):
            raise EdgeDeployError(f"{label}: only adaptive pooling to size 1 (a global mean) can be lowered")
        out = builder.mean(src.name, node.name, axis=(1, 2), keep_dims=True)
        return _Value(out, _torch_shape(builder.graph.tensor(out).shape, rank))
    if isinstance(module, nn.Flatten):
        return _flatten(builder, node.name, src, label, module.start_dim)
    if isinstance(module, nn.Linear):
        return _linear(builder, node.name, module.weight, module.bias, src, label)
    if isinstance(module, nn.Softmax):
        return _Value(builder.softmax(src.name, node.name), src.torch_shape)
    raise EdgeDeployError(f"{label} cannot be lowered to int8", "supported: Conv1d/2d, BatchNorm, ReLU/ReLU6, "
                          "MaxPool/AvgPool, AdaptiveAvgPool(1), Flatten, Linear, Dropout, add, Softmax")


def _conv(builder, node, module, src, rank, label) -> _Value:
    weight = module.weight.detach().double().numpy()
    bias = None if module.bias is None else module.bias.detach().double().numpy()
    if isinstance(module.padding, str):
        raise EdgeDeployError(f"{label}: string padding is not supported; give explicit integers")
    if module.padding_mode != "zeros":
        raise EdgeDeployError(f"{label}: padding_mode '{module.padding_mode}' cannot be lowered")
    if rank == 3:
        weight = weight[:, :, None, :]  # (O, I, 1, K)
    stride, dilation, pads = _pair(module.stride, rank), _pair(module.dilation, rank), _pair(module.padding, rank, height=0)
    in_nhwc = builder.graph.tensor(src.name).shape
    x = src.name
    filter_hw = weight.shape[2:4]
    same, _ = compute_padding(in_nhwc[1:3], filter_hw, stride, dilation, "same")
    torch_out = [(in_nhwc[1 + i] + 2 * pads[i] - (dilation[i] * (filter_hw[i] - 1) + 1)) // stride[i] + 1 for i in range(2)]
    _, same_out = compute_padding(in_nhwc[1:3], filter_hw, stride, dilation, "same")
    if pads == (0, 0):
        padding = "valid"
    elif (same[0], same[2]) == pads and tuple(same_out) == tuple(torch_out):
        padding = "same"  # TFLite's SAME reads exactly the windows PyTorch reads
    else:
        x = builder.pad(x, f"{node.name}/pad", [(0, 0), (pads[0], pads[0]), (pads[1], pads[1]), (0, 0)])
        padding = "valid"
    groups = module.groups
    if groups == 1:
        out = builder.conv2d(x, node.name, weight.transpose(0, 2, 3, 1), bias, stride=stride, padding=padding, dilation=dilation)
    elif groups == module.in_channels and weight.shape[1] == 1:
        out = builder.depthwise_conv2d(x, node.name, weight.transpose(1, 2, 3, 0), bias, stride=stride,
                                       padding=padding, dilation=dilation)
    else:
        raise EdgeDeployError(f"{label}: grouped convolution (groups={groups}) other than depthwise cannot be lowered")
    return _Value(out, _torch_shape(builder.graph.tensor(out).shape, rank))


def _producer(builder, name):
    for op in builder.graph.ops:
        if op.outputs[0] == name:
            return op
    return None


def _fold_batchnorm(builder, bn, src, shared, label) -> _Value:
    op = _producer(builder, src.name)
    if op is None or op.kind not in ("conv2d", "depthwise_conv2d") or op.attrs["activation"] != "none":
        raise EdgeDeployError(f"{label}: BatchNorm can only be folded into a directly preceding convolution")
    if shared(src.name):
        raise EdgeDeployError(f"{label}: the convolution before this BatchNorm (or a Dropout / Identity between "
                              "them) has other users; it cannot be folded", "apply the BatchNorm before branching")
    gamma = bn.weight.detach().double().numpy() if bn.affine else np.ones(bn.num_features)
    beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros(bn.num_features)
    mean, var = bn.running_mean.detach().double().numpy(), bn.running_var.detach().double().numpy()
    factor = gamma / np.sqrt(var + bn.eps)
    w = builder.graph.tensor(op.inputs[1])
    # Output channels are axis 0 of OHWI and axis 3 of 1HWO.
    w.data = (w.data * (factor[:, None, None, None] if op.kind == "conv2d" else factor)).astype(np.float32)
    old_bias = builder.graph.tensor(op.inputs[2]).data if len(op.inputs) > 2 else np.zeros(len(factor))
    new_bias = ((old_bias - mean) * factor + beta).astype(np.float32)
    if len(op.inputs) > 2:
        builder.graph.tensor(op.inputs[2]).data = new_bias
    else:
        op.inputs.append(builder.constant(f"{op.name}/bias", new_bias, "float32"))
    return src


def _fuse_activation(builder, name, src, activation, shared, label) -> _Value:
    """Fuse a ReLU / ReLU6 into the op producing ``src``; when that tensor has other users (the op,
    or a BatchNorm / Dropout / Identity aliasing it, feeds another branch), the activation becomes
    a separate 1x1 max pool with the activation fused, so the other users still read the
    un-activated tensor."""
    op = _producer(builder, src.name)
    if op is None or "activation" not in op.attrs or op.attrs["activation"] != "none":
        raise EdgeDeployError(f"{label}: an activation must directly follow a conv, linear, pool or add to be fused")
    if not shared(src.name):
        op.attrs["activation"] = activation
        return src
    if len(builder.graph.tensor(src.name).shape) != 4:
        raise EdgeDeployError(f"{label}: the op before this activation has other users and its output is not "
                              "a feature map; it cannot be fused", "apply the activation on each branch's own copy")
    out = builder.pool(src.name, name, "max_pool2d", filter_hw=(1, 1), stride=(1, 1), activation=activation)
    return _Value(out, src.torch_shape, src.column_order)


def _flatten(builder, name, src, label, start_dim=1) -> _Value:
    if start_dim != 1:
        raise EdgeDeployError(f"{label}: only flatten from dimension 1 can be lowered")
    shape = src.torch_shape
    if len(shape) <= 2:
        return src
    channels, spatial = shape[1], int(np.prod(shape[2:]))
    out = builder.reshape(src.name, name, (1, channels * spatial))
    # IR element (s, c) sits at s*C + c; PyTorch's flatten puts it at c*S + s.
    order = (np.arange(channels)[None, :] * spatial + np.arange(spatial)[:, None]).reshape(-1)
    return _Value(out, (shape[0], channels * spatial), order)


def _linear(builder, name, weight, bias, src, label) -> _Value:
    w = weight.detach().double().numpy()
    if len(src.torch_shape) != 2:
        raise EdgeDeployError(f"{label}: a Linear layer must follow a flatten (its input has shape {src.torch_shape})")
    if src.column_order is not None:
        w = w[:, src.column_order]
    b = None if bias is None else bias.detach().double().numpy()
    out = builder.fully_connected(src.name, name, w.astype(np.float32), None if b is None else b.astype(np.float32))
    return _Value(out, (src.torch_shape[0], w.shape[0]))


def _lower_function_node(builder, node, values, shared, torch) -> _Value:
    import torch.nn.functional as F

    target = node.target
    label = f"operation '{node.name}' ({getattr(target, '__name__', target)})"
    args = list(node.args)

    def operand(position: int) -> _Value:
        arg = args[position]
        if not isinstance(arg, torch.fx.Node):
            raise EdgeDeployError(f"{label}: operand {position + 1} is {arg!r} ({type(arg).__name__}), not a tensor "
                                  "from another layer; only tensor operands can be lowered",
                                  "fold the constant into a layer's bias, or make it a layer")
        return values[arg.name]

    if target in (operator.add, torch.add) or target == "add":
        a, b = operand(0), operand(1)
        out = builder.add(a.name, b.name, node.name)
        return _Value(out, a.torch_shape)
    if target in (F.relu, torch.relu) or target == "relu":
        return _fuse_activation(builder, node.name, operand(0), "relu", shared, label)
    if target in (F.relu6,):
        return _fuse_activation(builder, node.name, operand(0), "relu6", shared, label)
    if target in (torch.flatten,) or target == "flatten":
        return _flatten(builder, node.name, operand(0), label, args[1] if len(args) > 1 else 1)
    if target in (F.dropout,):
        return operand(0)
    raise EdgeDeployError(f"{label} cannot be lowered to int8")
