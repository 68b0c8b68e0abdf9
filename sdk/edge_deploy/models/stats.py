"""Size of a model: parameters and multiply-accumulates per inference."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters of ``model`` (BatchNorm scale and shift included)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Return the multiply-accumulates of one inference of ``model`` on an input ``input_shape``.

    ``input_shape`` excludes the batch dimension. Counts Conv1d/Conv2d and Linear layers (what
    dominates the cost on the target; BatchNorm folds into the convolution).
    """
    total = 0

    def on_conv(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight[0].numel()  # in_channels/groups * kernel taps
        total += int(output[0].numel()) * kernel

    def on_linear(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += int(output[0].numel()) * module.in_features

    hooks = []
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(on_linear))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total
