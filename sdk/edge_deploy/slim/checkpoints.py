"""Slimmed checkpoints: the same format as training's, with arch params that describe the new
widths and a record of what was pruned under ``arch["slim"]``.

``arch["slim"]`` is plain data: ``{"history": [one entry per slimming run], "activation":
{...}}`` (the activation-pruning plan, when there is one), so later stages can read it without
importing this package.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model
from edge_deploy.train.checkpoint import Checkpoint


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def arch_for(arch: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Return a copy of ``arch`` whose params rebuild a model shaped like ``model``.

    The new params come from the model's ``width_params(params)`` (every registered architecture
    that can be channel-pruned has one). Raises EdgeDeployError when it has none or the new
    params do not rebuild the same shapes.
    """
    new = copy.deepcopy(arch)
    params = dict(new.get("params", {}))
    if _shapes(build_model(new["name"], **params)) == _shapes(model):
        return new
    widths = getattr(model, "width_params", None)
    if widths is None:
        raise EdgeDeployError(
            f"architecture {new['name']!r} has no width parameters (a width_params method), so a "
            f"channel-pruned checkpoint could not be rebuilt by load_checkpoint",
            hint="give the model class a width_params(params) method (docs/models.md), or use "
                 "--method scalpel/activation, which keep the shapes",
        )
    new["params"] = widths(params)
    if _shapes(build_model(new["name"], **new["params"])) != _shapes(model):
        raise EdgeDeployError(
            f"the pruned {new['name']!r} cannot be described by its params {new['params']}",
            hint="its forward must depend only on the widths in its params",
        )
    return new


def slimmed_checkpoint(source: Checkpoint, members: Sequence[nn.Module], record: dict[str, Any],
                       activation: dict[str, Any] | None = None) -> Checkpoint:
    """Return a new Checkpoint holding ``members``, with ``source``'s metadata, arch params for
    the new widths, and ``record`` appended to ``arch["slim"]["history"]`` (``activation``, if
    given, replaces ``arch["slim"]["activation"]``). Raises EdgeDeployError as :func:`arch_for`.
    """
    arch = arch_for(source.arch, members[0])
    slim = copy.deepcopy(source.arch.get("slim", {}))
    slim.setdefault("history", []).append(copy.deepcopy(record))
    if activation is not None:
        slim["activation"] = copy.deepcopy(activation)
    arch["slim"] = slim
    metrics = copy.deepcopy(source.metrics)
    metrics["slim"] = copy.deepcopy(record.get("summary", {}))
    return Checkpoint(arch=arch, members=[m.eval() for m in members], input=dict(source.input),
                      classes=list(source.classes), normalization=dict(source.normalization),
                      data=copy.deepcopy(source.data), config=copy.deepcopy(source.config), metrics=metrics)
