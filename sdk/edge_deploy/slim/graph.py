"""Channel dependency analysis: who produces and who consumes every channel of a model.

The model is traced with torch.fx and every tensor's channel axis (dim 1) is followed from the
layer that produces it to every layer that reads it: conv -> batchnorm -> relu -> pool -> conv or
linear, through flattens (channel ``c`` of an ``(N, C, *S)`` tensor owns the flattened features
``c*P .. c*P+P-1`` with ``P = prod(S)``), residual adds (which tie the channels of both operands
together), attention gates (a ``(N, C, 1, 1)`` gate multiplied into an ``(N, C, H, W)`` map ties
the gate's channels to the map's, so the gate's last layer loses the same channels) and
concatenations. Nothing is hand-listed per architecture.

The result is a list of :class:`ChannelGroup`: a set of parameter *slots* (one index of one
dimension of one module) that must be removed together. Removing a group removes an output channel
from every producing conv/linear, its batch-norm entries, and the matching input columns of every
consumer. Channels that reach the model input or output, or pass through an op the analysis does
not understand, are marked not prunable, so an unknown op can never yield a wrong network.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from edge_deploy.models.tracing import trace_with_shapes

# Modules that act on each channel on its own: the channel axis passes through unchanged.
_CHANNELWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
    nn.Hardswish, nn.Hardsigmoid, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d,  # pad the spatial axes only
)
_CHANNELWISE_FUNCTIONS = {
    torch.relu, F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.hardtanh, F.hardswish, F.hardsigmoid,
    torch.sigmoid, torch.tanh, F.sigmoid, F.tanh, torch.abs, torch.neg, operator.neg,
    F.dropout, F.dropout1d, F.dropout2d, torch.dropout,
    F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_max_pool1d, F.adaptive_max_pool2d,
    torch.clamp, torch.clip,
}
_CHANNELWISE_METHODS = {
    "relu", "relu_", "sigmoid", "tanh", "abs", "neg", "contiguous", "clone", "float", "clamp",
    "clip", "detach",
}
_ELEMENTWISE_BINARY = {operator.add, operator.sub, operator.mul, operator.truediv,
                       torch.add, torch.sub, torch.mul, torch.div}
_ELEMENTWISE_BINARY_METHODS = {"add", "sub", "mul", "div", "add_", "mul_"}
# Reductions that are channelwise when they keep the batch and channel axes (global pooling).
_REDUCTIONS = {torch.mean, torch.sum, torch.amax}
_REDUCTION_METHODS = {"mean", "sum", "amax"}
_RESHAPES = {torch.flatten, torch.reshape}
_RESHAPE_METHODS = {"flatten", "view", "reshape"}


@dataclass(frozen=True, order=True)
class Slot:
    """One index of one parameter dimension: ``role`` "out" is weight dim 0 (and bias, and every
    batch-norm vector), "in" is weight dim 1 (the input channels or features a layer reads)."""

    module: str
    role: str
    index: int


@dataclass
class ChannelGroup:
    """Parameter slots that stand for one channel and must be removed together."""

    id: int
    slots: list[Slot]
    prunable: bool
    reason: str = ""  # why not prunable

    def modules(self, role: str | None = None) -> list[str]:
        """Names of the modules this group touches (only those in ``role`` if given), sorted."""
        return sorted({s.module for s in self.slots if role is None or s.role == role})


@dataclass
class ChannelGraph:
    """The channel dependencies of one model (see :func:`analyze_channels`).

    ``groups`` lists every channel group; ``module_kinds`` maps module name -> "conv", "depthwise",
    "linear" or "batchnorm" for every module with slots; ``flatten_inputs`` maps a linear layer's
    name to the ``(C, *spatial)`` shape of the NC* tensor flattened into its input, when it reads
    one (the lowering reorders such inputs to channels-last).
    """

    groups: list[ChannelGroup]
    module_kinds: dict[str, str]
    flatten_inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def prunable_groups(self) -> list[ChannelGroup]:
        """The groups that may be removed."""
        return [g for g in self.groups if g.prunable]

    def batchnorm_slots(self, group: ChannelGroup) -> list[Slot]:
        """The batch-norm entries of ``group`` (their gammas measure its importance)."""
        return [s for s in group.slots if self.module_kinds.get(s.module) == "batchnorm"]

    def groups_by_layer(self) -> dict[str, list[int]]:
        """Producing layer (conv, linear or batch-norm name) -> ids of the groups it outputs."""
        layers: dict[str, set[int]] = {}
        for g in self.groups:
            for s in g.slots:
                if s.role == "out":
                    layers.setdefault(s.module, set()).add(g.id)
        return {name: sorted(ids) for name, ids in sorted(layers.items())}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.blocked: dict[int, str] = {}

    def new(self, blocked: str = "") -> int:
        self.parent.append(len(self.parent))
        if blocked:
            self.blocked[len(self.parent) - 1] = blocked
        return len(self.parent) - 1

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def block(self, a: int, reason: str) -> None:
        self.blocked.setdefault(a, reason)


def _shape(node: object) -> tuple[int, ...] | None:
    meta = getattr(node, "meta", {}).get("tensor_meta") if isinstance(node, fx.Node) else None
    shape = getattr(meta, "shape", None)
    return tuple(shape) if shape is not None else None


def _same_channels_unit_rest(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> bool:
    """True when shapes ``a`` and ``b`` agree in batch and channels and are 1 everywhere else."""
    return (a is not None and b is not None and len(a) >= 2 and len(b) >= 2 and a[:2] == b[:2]
            and all(d == 1 for d in a[2:] + b[2:]))


class _Analyzer:
    def __init__(self, model: nn.Module, gm: fx.GraphModule) -> None:
        self.model = model
        self.gm = gm
        self.uf = _UnionFind()
        self.slot_ids: dict[Slot, int] = {}
        self.kinds: dict[str, str] = {}
        self.ids: dict[fx.Node, list[int]] = {}       # channel ids along dim 1 of each tensor
        self.layout: dict[fx.Node, tuple[int, ...]] = {}  # (C, *S) when the tensor is a flatten
        self.flatten_inputs: dict[str, tuple[int, ...]] = {}

    def slot(self, module: str, role: str, index: int) -> int:
        key = Slot(module, role, index)
        if key not in self.slot_ids:
            self.slot_ids[key] = self.uf.new()
        return self.slot_ids[key]

    def fresh(self, node: fx.Node, reason: str) -> None:
        shape = _shape(node)
        if shape is not None and len(shape) >= 2:
            self.ids[node] = [self.uf.new(reason) for _ in range(shape[1])]

    def tensor_inputs(self, node: fx.Node) -> list[fx.Node]:
        found: list[fx.Node] = []
        fx.node.map_arg((node.args, node.kwargs), lambda a: found.append(a) if a in self.ids else None)
        return found

    def opaque(self, node: fx.Node, what: str) -> None:
        """An op the analysis does not follow: its inputs and output keep all their channels."""
        reason = f"passes through {what} ({node.name}), which the channel analysis does not follow"
        for arg in self.tensor_inputs(node):
            for i in self.ids[arg]:
                self.uf.block(i, reason)
        self.fresh(node, reason)

    def passthrough(self, node: fx.Node, src: fx.Node) -> None:
        if src in self.ids and _shape(node) is not None and _shape(src) is not None \
                and len(_shape(node)) >= 2 and _shape(node)[1] == len(self.ids[src]):
            self.ids[node] = list(self.ids[src])
            if src in self.layout:
                self.layout[node] = self.layout[src]
        else:
            self.opaque(node, "a channelwise op whose shape could not be followed")

    def run(self) -> ChannelGraph:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self.fresh(node, "is a model input")
            elif node.op == "get_attr":
                self.fresh(node, "is a stored tensor")
            elif node.op == "call_module":
                self.visit_module(node, self.gm.get_submodule(node.target))
            elif node.op in ("call_function", "call_method"):
                self.visit_function(node)
            elif node.op == "output":
                reason = "reaches the model output"
                fx.node.map_arg(node.args, lambda a: [self.uf.block(i, reason) for i in self.ids.get(a, [])])
        return self.collect()

    def visit_module(self, node: fx.Node, module: nn.Module) -> None:
        name = str(node.target)
        inputs = self.tensor_inputs(node)
        src = inputs[0] if len(inputs) == 1 else None
        if isinstance(module, (nn.Conv1d, nn.Conv2d)) and src is not None:
            self.visit_conv(node, name, module, src)
        elif isinstance(module, nn.Linear) and src is not None and len(_shape(src) or ()) == 2:
            self.kinds[name] = "linear"
            for i, cid in enumerate(self.ids[src]):
                self.uf.union(cid, self.slot(name, "in", i))
            if src in self.layout:
                self.flatten_inputs[name] = self.layout[src]
            self.ids[node] = [self.slot(name, "out", j) for j in range(module.out_features)]
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and src is not None:
            self.kinds[name] = "batchnorm"
            for c, cid in enumerate(self.ids[src]):
                self.uf.union(cid, self.slot(name, "out", c))
            self.passthrough(node, src)
        elif isinstance(module, _CHANNELWISE_MODULES) and src is not None:
            self.passthrough(node, src)
        elif isinstance(module, nn.Flatten) and src is not None and module.start_dim == 1 \
                and module.end_dim == -1:
            self.flatten(node, src)
        else:
            self.opaque(node, type(module).__name__)

    def visit_conv(self, node: fx.Node, name: str, conv: nn.Conv1d | nn.Conv2d, src: fx.Node) -> None:
        in_ids = self.ids[src]
        if conv.groups == 1:
            self.kinds[name] = "conv"
            for i, cid in enumerate(in_ids):
                self.uf.union(cid, self.slot(name, "in", i))
            self.ids[node] = [self.slot(name, "out", j) for j in range(conv.out_channels)]
        elif conv.groups == conv.in_channels == conv.out_channels:
            # Depthwise: output channel c is computed from input channel c alone.
            self.kinds[name] = "depthwise"
            for c, cid in enumerate(in_ids):
                self.uf.union(cid, self.slot(name, "out", c))
            self.ids[node] = list(in_ids)
        else:
            reason = f"feeds grouped convolution {name} (groups={conv.groups})"
            self.kinds[name] = "conv"
            for i, cid in enumerate(in_ids):
                self.uf.block(cid, reason)
            self.ids[node] = [self.slot(name, "out", j) for j in range(conv.out_channels)]
            for cid in self.ids[node]:
                self.uf.block(cid, f"comes from grouped convolution {name}")

    def flatten(self, node: fx.Node, src: fx.Node) -> None:
        in_shape, out_shape = _shape(src), _shape(node)
        if in_shape is None or out_shape is None or src not in self.ids:
            return self.opaque(node, "a flatten of unknown shape")
        if len(in_shape) == 2 and out_shape == in_shape:
            return self.passthrough(node, src)
        per_channel = math.prod(in_shape[2:])
        if len(in_shape) < 3 or out_shape != (in_shape[0], in_shape[1] * per_channel):
            return self.opaque(node, "a reshape that is not a flatten from dim 1")
        # PyTorch flattens NC* row-major: channel c owns features c*P .. c*P+P-1.
        self.ids[node] = [cid for cid in self.ids[src] for _ in range(per_channel)]
        self.layout[node] = tuple(in_shape[1:])

    def visit_function(self, node: fx.Node) -> None:
        target = node.target
        is_method = node.op == "call_method"
        inputs = self.tensor_inputs(node)
        if not inputs:
            return self.fresh(node, "is computed from constants") if _shape(node) else None
        first = inputs[0]
        if (is_method and target in ("size", "dim")) or (target is getattr and node.args[1:2] in (("shape",), ("dtype",))):
            return None  # reads the tensor's shape or type, not its values: no channel goes anywhere
        if (target in _CHANNELWISE_METHODS if is_method else target in _CHANNELWISE_FUNCTIONS) \
                and len(inputs) == 1:
            return self.passthrough(node, first)
        if target in _ELEMENTWISE_BINARY_METHODS if is_method else target in _ELEMENTWISE_BINARY:
            return self.elementwise(node, inputs)
        if (target in _RESHAPE_METHODS if is_method else target in _RESHAPES) and len(inputs) == 1:
            if _shape(node) == _shape(first) or _same_channels_unit_rest(_shape(node), _shape(first)):
                return self.passthrough(node, first)  # e.g. (N, C) <-> (N, C, 1, 1): the channel axis stays
            return self.flatten(node, first)
        if (target in _REDUCTION_METHODS if is_method else target in _REDUCTIONS) and len(inputs) == 1:
            out, src = _shape(node), _shape(first)
            if out is not None and src is not None and len(out) >= 2 and out[:2] == src[:2]:
                return self.passthrough(node, first)
        if target is torch.cat:
            return self.concat(node, inputs)
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        self.opaque(node, f"op '{name}'")

    def elementwise(self, node: fx.Node, inputs: list[fx.Node]) -> None:
        out = _shape(node)
        shapes = [_shape(a) for a in inputs]
        if out is None or len(out) < 2 or any(s is None or len(s) != len(out) for s in shapes):
            return self.opaque(node, "an elementwise op on operands of another rank")
        full = [a for a, s in zip(inputs, shapes) if s[1] == out[1]]
        if not full or any(s[1] not in (1, out[1]) for s in shapes):
            return self.opaque(node, "an elementwise op whose channels could not be followed")
        # Operands with all the channels feed the same output channel: a residual add, or a gate
        # broadcast over the map (N, C, 1, 1) x (N, C, H, W), ties their channels.
        for other in full[1:]:
            for a, b in zip(self.ids[full[0]], self.ids[other]):
                self.uf.union(a, b)
        for operand, shape in zip(inputs, shapes):
            if shape[1] != out[1]:  # one value for every channel (out[1] > 1): it keeps its channel
                for cid in self.ids[operand]:
                    self.uf.block(cid, f"is broadcast over all channels at {node.name}")
        self.passthrough(node, full[0])

    def concat(self, node: fx.Node, inputs: list[fx.Node]) -> None:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        out = _shape(node)
        if out is None or len(out) < 2 or dim not in (1, 1 - len(out)):
            return self.opaque(node, "a concatenation along a non-channel axis")
        self.ids[node] = [cid for a in inputs for cid in self.ids[a]]

    def collect(self) -> ChannelGraph:
        members: dict[int, list[Slot]] = {}
        for slot, sid in self.slot_ids.items():
            members.setdefault(self.uf.find(sid), []).append(slot)
        blocked: dict[int, str] = {}
        for i, reason in self.uf.blocked.items():
            blocked.setdefault(self.uf.find(i), reason)
        ordered = sorted(members.items(), key=lambda kv: min(kv[1]))
        groups = [
            ChannelGroup(id=n, slots=sorted(slots), prunable=root not in blocked,
                         reason=blocked.get(root, ""))
            for n, (root, slots) in enumerate(ordered)
        ]
        return ChannelGraph(groups=groups, module_kinds=dict(sorted(self.kinds.items())),
                            flatten_inputs=dict(sorted(self.flatten_inputs.items())))


def analyze_channels(model: nn.Module, example_input: torch.Tensor) -> ChannelGraph:
    """Find the channel groups of ``model`` by tracing it on ``example_input`` (N, C, L...).

    Returns a :class:`ChannelGraph`. Raises EdgeDeployError if the model cannot be traced.
    """
    gm = trace_with_shapes(model, example_input)
    return _Analyzer(model, gm).run()
