"""Trace a PyTorch model with torch.fx and record every node's output shape: what slimming's
channel analysis, activation pruning and the int8 lowering all start from."""

from __future__ import annotations

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from edge_deploy.errors import EdgeDeployError


class _Tracer(fx.Tracer):
    # Modules that mark themselves ``fx_leaf`` (e.g. the activation pruner) stay single nodes.
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return getattr(m, "fx_leaf", False) or super().is_leaf_module(m, qualname)


def trace_with_shapes(model: nn.Module, example_input: torch.Tensor) -> fx.GraphModule:
    """Trace ``model`` with torch.fx (in eval mode) and record every node's output shape.

    Returns the GraphModule (its submodules are the model's own). Raises EdgeDeployError when the
    model cannot be traced symbolically.
    """
    was_training = model.training
    model.eval()
    try:
        try:
            gm = fx.GraphModule(model, _Tracer().trace(model), type(model).__name__)
        except Exception as exc:  # fx raises many types for data-dependent control flow
            raise EdgeDeployError(
                f"cannot trace {type(model).__name__} with torch.fx: {exc}",
                hint="keep the forward free of data-dependent Python control flow "
                     "(branches on tensor values), so its graph can be traced",
            ) from exc
        with torch.no_grad():
            ShapeProp(gm).propagate(example_input)
    finally:
        model.train(was_training)
    return gm
