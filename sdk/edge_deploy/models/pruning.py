"""Activation pruning applied to a model: the winner-take-all module that zeroes all but the
largest activations after a ReLU, and the transformation that inserts it at chosen ReLUs.
Choosing the rates and thresholds is slimming's (:mod:`edge_deploy.slim.activation`); applying
a chosen plan is needed wherever the model runs (training checks, quantization, evaluation)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from edge_deploy.models.tracing import trace_with_shapes


class WinnerTakeAll(nn.Module):
    """Keep the winners of a non-negative activation, zero the others (see module doc)."""

    fx_leaf = True  # traced as one node, so a pruned model can be traced again

    def __init__(self, rate: float, mode: str = "threshold", threshold: float = 0.0) -> None:
        super().__init__()
        self.rate, self.mode, self.threshold = float(rate), mode, float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate >= 1.0:
            return x
        if self.mode == "threshold":
            return x * (x > self.threshold).to(x.dtype)
        flat = x.reshape(x.shape[0], -1)
        k = max(1, math.ceil(self.rate * flat.shape[1]))
        keep = torch.zeros_like(flat).scatter_(1, flat.topk(k, dim=1).indices, 1.0)
        return (flat * keep).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, mode={self.mode}, threshold={self.threshold:.6g}"


def with_activation_pruning(model: nn.Module, example_input: torch.Tensor,
                            pruners: dict[str, WinnerTakeAll]) -> fx.GraphModule:
    """Return a GraphModule running ``model`` (sharing its parameters) with ``pruners[node]``
    applied to the output of each named ReLU node."""
    gm = trace_with_shapes(model, example_input)
    for node in list(gm.graph.nodes):
        if node.name in pruners:
            name = f"winner_take_all_{node.name}"
            gm.add_submodule(name, pruners[node.name])
            with gm.graph.inserting_after(node):
                pruned = gm.graph.call_module(name, (node,))
            node.replace_all_uses_with(pruned, delete_user_cb=lambda user: user is not pruned)
    gm.graph.lint()
    gm.recompile()
    return gm.eval()


def pruned_members(members: Sequence[nn.Module], plan: dict[str, Any], example_input: torch.Tensor) -> list[fx.GraphModule]:
    """Return each member with the activation-pruning ``plan`` (the dict form) applied."""
    out = []
    for index, model in enumerate(members):
        pruners = {s["node"]: WinnerTakeAll(s["winner_rate"], plan["mode"], s["threshold"][index])
                   for s in plan["sites"] if s["winner_rate"] < 1.0}
        out.append(with_activation_pruning(model, example_input, pruners))
    return out
