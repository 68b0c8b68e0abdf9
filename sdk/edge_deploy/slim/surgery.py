"""Physical channel removal: a smaller dense copy of a model, same classes, fewer channels.

The channel groups come from :mod:`edge_deploy.slim.graph`; removing a group deletes its output
channel from every producer (conv/linear weight rows, bias, batch-norm vectors and running
statistics) and its input columns from every consumer. :func:`resize_to_state_dict` does the
reverse job for loading: it shrinks a freshly built model so that a slimmed state dict fits it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

import torch
import torch.nn as nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.graph import ChannelGraph

_CONV = (nn.Conv1d, nn.Conv2d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _kept(size: int, dropped: set[int]) -> torch.Tensor:
    return torch.tensor([i for i in range(size) if i not in dropped], dtype=torch.long)


def _replace_param(module: nn.Module, name: str, value: torch.Tensor) -> None:
    old = getattr(module, name)
    if isinstance(old, nn.Parameter):
        setattr(module, name, nn.Parameter(value.clone(), requires_grad=old.requires_grad))
    else:
        setattr(module, name, value.clone())  # a registered buffer stays a buffer


def _shrink_conv(conv: nn.Conv1d | nn.Conv2d, keep_out: torch.Tensor, keep_in: torch.Tensor | None,
                 depthwise: bool) -> None:
    weight = conv.weight.detach().index_select(0, keep_out)
    if keep_in is not None and not depthwise:
        weight = weight.index_select(1, keep_in)
    _replace_param(conv, "weight", weight)
    if conv.bias is not None:
        _replace_param(conv, "bias", conv.bias.detach().index_select(0, keep_out))
    conv.out_channels = len(keep_out)
    conv.in_channels = len(keep_out) if depthwise else weight.shape[1] * conv.groups
    if depthwise:
        conv.groups = len(keep_out)


def _shrink_linear(linear: nn.Linear, keep_out: torch.Tensor, keep_in: torch.Tensor) -> None:
    _replace_param(linear, "weight", linear.weight.detach().index_select(0, keep_out).index_select(1, keep_in))
    if linear.bias is not None:
        _replace_param(linear, "bias", linear.bias.detach().index_select(0, keep_out))
    linear.out_features, linear.in_features = len(keep_out), len(keep_in)


def _shrink_batchnorm(bn: nn.BatchNorm1d | nn.BatchNorm2d, keep: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        if getattr(bn, name, None) is not None:
            _replace_param(bn, name, getattr(bn, name).detach().index_select(0, keep))
    bn.num_features = len(keep)


def _input_size(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.in_features
    return module.weight.shape[1]


def _output_size(module: nn.Module) -> int:
    return module.weight.shape[0] if not isinstance(module, _BN) else module.num_features


def remove_channels(model: nn.Module, graph: ChannelGraph, drop: Iterable[int]) -> nn.Module:
    """Return a deep copy of ``model`` without the channel groups whose ids are in ``drop``.

    Modules keep their classes and all other attributes; only their channel counts and
    parameters shrink. The original model is not modified. Raises EdgeDeployError if a group is
    not prunable or if a layer would lose all its channels.
    """
    drop_ids = set(drop)
    by_id = {g.id: g for g in graph.groups}
    dropped: dict[tuple[str, str], set[int]] = {}
    for gid in sorted(drop_ids):
        group = by_id[gid]
        if not group.prunable:
            raise EdgeDeployError(
                f"channel group {gid} ({', '.join(group.modules())}) cannot be removed: it {group.reason}",
                hint="choose among ChannelGraph.prunable_groups()",
            )
        for slot in group.slots:
            dropped.setdefault((slot.module, slot.role), set()).add(slot.index)

    pruned = copy.deepcopy(model)
    for name in sorted({module for module, _ in dropped}):
        module = pruned.get_submodule(name)
        out_drop = dropped.get((name, "out"), set())
        in_drop = dropped.get((name, "in"), set())
        keep_out = _kept(_output_size(module), out_drop)
        if len(keep_out) == 0:
            raise EdgeDeployError(
                f"removing the chosen channels would leave layer '{name}' with no channels",
                hint="keep at least one channel in every layer",
            )
        if isinstance(module, _BN):
            _shrink_batchnorm(module, keep_out)
        elif isinstance(module, _CONV):
            keep_in = _kept(_input_size(module), in_drop) if in_drop else None
            _shrink_conv(module, keep_out, keep_in, graph.module_kinds.get(name) == "depthwise")
        elif isinstance(module, nn.Linear):
            _shrink_linear(module, keep_out, _kept(_input_size(module), in_drop))
        else:  # the analysis only creates slots on the three kinds above
            raise TypeError(f"unexpected module {type(module).__name__} at {name}")
    return pruned


def resize_to_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Shrink (or grow) ``model``'s conv, linear and batch-norm layers in place to the shapes of
    ``state_dict``, so that ``model.load_state_dict(state_dict)`` fits a slimmed checkpoint.

    Only channel counts change; values are left for load_state_dict to fill. Returns the names
    of the resized modules. Raises EdgeDeployError when a shape differs in anything but its
    channel counts (a different architecture, not a slimmed one).
    """
    resized: list[str] = []
    for name, module in model.named_modules():
        key = f"{name}.weight" if name else "weight"
        if key not in state_dict or not isinstance(module, (*_CONV, nn.Linear, *_BN)):
            continue
        shape = tuple(state_dict[key].shape)
        if shape == tuple(module.weight.shape):
            continue
        if isinstance(module, _BN):
            _shrink_batchnorm(module, torch.zeros(shape[0], dtype=torch.long))
        elif isinstance(module, nn.Linear) and len(shape) == 2:
            _shrink_linear(module, torch.zeros(shape[0], dtype=torch.long), torch.zeros(shape[1], dtype=torch.long))
        elif isinstance(module, _CONV) and shape[2:] == tuple(module.weight.shape[2:]):
            depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
            if not depthwise and module.groups != 1:
                raise EdgeDeployError(f"cannot resize grouped convolution '{name}' to {shape}")
            _shrink_conv(module, torch.zeros(shape[0], dtype=torch.long),
                         torch.zeros(shape[1], dtype=torch.long), depthwise)
        else:
            raise EdgeDeployError(
                f"layer '{name}' has weight shape {tuple(module.weight.shape)} but the checkpoint "
                f"holds {shape}: not just a channel count difference",
                hint="the checkpoint was saved from a different architecture than its 'arch' names",
            )
        resized.append(name)
    return resized
