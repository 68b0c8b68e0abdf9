"""The small training loop the slimming methods share: sparsity training, fine-tuning, retraining
with masks held, and accuracy of one model or an ensemble (majority vote)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from edge_deploy.train.loop import augment_speed, recalibrate_batchnorm


def accuracy(models: nn.Module | Sequence[nn.Module], x: np.ndarray | torch.Tensor,
             y: np.ndarray | torch.Tensor) -> float:
    """Return the accuracy in percent of one model, or of an ensemble by majority vote (as
    ``edge-deploy evaluate`` scores it), on windows ``x`` with labels ``y``."""
    from edge_deploy.train.evaluate import predict_labels

    members = [models] if isinstance(models, nn.Module) else list(models)
    y = np.asarray(y)
    if len(y) == 0:
        return 0.0
    return 100.0 * float(np.mean(predict_labels(members, np.asarray(x)) == y))


def add_training_noise(x: torch.Tensor, snr_db: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Return z-scored windows ``x`` (N, C, L) with white noise at an SNR drawn per window from
    ``snr_db``, z-scored again (the model only ever sees z-scored windows)."""
    low, high = float(snr_db[0]), float(snr_db[1])
    snr = low + (high - low) * torch.rand((x.shape[0], 1, 1), generator=generator)
    signal_power = x.pow(2).mean(dim=-1, keepdim=True)
    noise = torch.randn(x.shape, generator=generator) * torch.sqrt(signal_power * 10.0 ** (-snr / 10.0))
    noisy = x + noise
    centred = noisy - noisy.mean(dim=-1, keepdim=True)
    return centred / centred.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)


def fine_tune(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    epochs: float,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    after_step: Callable[[], None] | None = None,
    noise_snr_db: Sequence[float] | None = None,
    speed_range: Sequence[float] | None = None,
) -> nn.Module:
    """Train ``model`` in place with Adam and cross-entropy; return it in eval mode.

    ``epochs`` may be fractional (a part of one shuffled pass). ``penalty(model)`` is added to the
    loss (the L1 term of Network Slimming); ``after_step()`` runs after every optimizer step (to
    hold pruning masks). ``noise_snr_db`` (low, high) adds white noise to every training window,
    as training's noise augmentation does; ``speed_range`` (low, high) resamples every window in
    time first, as training's speed augmentation does. Afterwards the BatchNorm statistics are
    re-estimated on the clean windows, as training does: in train mode, input dropout (TICNN's
    changing-rate dropout) and the augmentations move the running statistics away from what
    the layers see in eval mode, which alone cost several points. Seeded: the same inputs give the same weights.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    steps_per_epoch = max(1, -(-len(x) // batch_size))
    total_steps = int(round(epochs * steps_per_epoch))
    if total_steps <= 0 or len(x) == 0:
        return model.eval()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the model's own randomness (dropout draws)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    step, order = 0, torch.randperm(len(x), generator=generator)
    while step < total_steps:
        position = (step % steps_per_epoch) * batch_size
        if position == 0 and step:
            order = torch.randperm(len(x), generator=generator)
        index = order[position : position + batch_size]
        batch = x[index]
        if speed_range is not None:
            batch = augment_speed(batch, (float(speed_range[0]), float(speed_range[1])), generator)
        if noise_snr_db is not None:
            batch = add_training_noise(batch, tuple(noise_snr_db), generator)
        loss = loss_fn(model(batch), y[index])
        if penalty is not None:
            loss = loss + penalty(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        step += 1
    recalibrate_batchnorm(model, x)
    return model.eval()
