"""What a model costs: stored and nonzero parameters, dense and effective multiply-accumulates.

Effective MACs count only multiplies by nonzero weights (what a sparse kernel executes); on a
dense model they equal the dense count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelCost:
    """Parameter and MAC counts of one inference (batch 1)."""

    params: int
    nonzero_params: int
    macs: int
    effective_macs: int

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a plain dict."""
        return asdict(self)


def layer_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[int, int]]:
    """Return ``{layer name: (dense MACs, effective MACs)}`` for every conv and linear layer of
    ``model`` on one input of ``input_shape`` (without the batch dimension)."""
    found: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            def hook(mod: nn.Module, _inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                # Each output position of a conv repeats the whole weight; a linear uses it once.
                positions = output[0, 0].numel() if not isinstance(mod, nn.Linear) else 1
                found[name] = (positions * mod.weight.numel(), positions * int(torch.count_nonzero(mod.weight)))
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    return found


def model_cost(model: nn.Module, input_shape: tuple[int, ...]) -> ModelCost:
    """Return the :class:`ModelCost` of ``model`` on one input of ``input_shape`` (no batch dim)."""
    per_layer = layer_macs(model, input_shape)
    params = list(model.parameters())
    return ModelCost(
        params=sum(p.numel() for p in params),
        nonzero_params=sum(int(torch.count_nonzero(p)) for p in params),
        macs=sum(dense for dense, _ in per_layer.values()),
        effective_macs=sum(eff for _, eff in per_layer.values()),
    )


@torch.no_grad()
def input_densities(model: nn.Module, x: torch.Tensor, runner: nn.Module | None = None) -> dict[str, float]:
    """Return ``{layer: fraction of nonzero inputs}`` for every conv and linear layer of ``model``
    on windows ``x``, running ``runner`` (``model`` itself, or a wrapper sharing its layers, such
    as the activation-pruned GraphModule). Padding is not counted."""
    counts: dict[str, list[int]] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            def hook(_mod: nn.Module, inputs: tuple, _out: torch.Tensor, name: str = name) -> None:
                entry = counts.setdefault(name, [0, 0])
                entry[0] += int(torch.count_nonzero(inputs[0]))
                entry[1] += inputs[0].numel()
            hooks.append(module.register_forward_hook(hook))
    run = runner if runner is not None else model
    was_training = run.training
    run.eval()
    try:
        run(x)
    finally:
        for handle in hooks:
            handle.remove()
        run.train(was_training)
    return {name: nonzero / total if total else 0.0 for name, (nonzero, total) in counts.items()}


def zero_skipping_macs(model: nn.Module, input_shape: tuple[int, ...], densities: dict[str, float]) -> int:
    """Return the MACs a kernel skipping both zero weights and zero inputs would execute: each
    layer's effective MACs scaled by its input density (an estimate; zeros are not uniform)."""
    per_layer = layer_macs(model, input_shape)
    return int(round(sum(eff * densities.get(name, 1.0) for name, (_, eff) in per_layer.items())))
