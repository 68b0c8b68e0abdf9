"""The training loop: one model or an ensemble of independently seeded ones, trained in turn.

Each member gets seed ``training.seed + index`` for its weights, dropout draws and batch order,
so a rerun with the same config reproduces the same weights. Validation accuracy after every
epoch drives early stopping; the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from edge_deploy.models import build_model, input_params
from edge_deploy.train.config import TrainConfig, takes_input_dropout


@dataclass
class TrainedEnsemble:
    """The trained members (eval mode), their arch, and one history list per member."""

    arch: dict[str, Any]
    members: list[nn.Module]
    history: list[list[dict[str, float]]] = field(default_factory=list)
    seconds: float = 0.0


def model_arch(config: TrainConfig, n_classes: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Return ``{"name", "params"}`` for the config: its model params plus the parameters for one
    input of ``input_shape`` (C, then the spatial sizes; the model's ``input_params``), the class
    count and, for a model with input dropout (TICNN), the input dropout trick (JSON-plain lists,
    so the checkpoint stays plain data)."""
    params = dict(config.model.params)
    for key, value in input_params(config.model.name, input_shape).items():
        params.setdefault(key, value)
    params.setdefault("n_classes", n_classes)
    if takes_input_dropout(config.model.name):
        dropout = config.tricks.input_dropout
        params["input_dropout"] = None if dropout is None else [float(dropout[0]), float(dropout[1])]
    return {"name": config.model.name, "params": params}


def _augment_with_noise(x: torch.Tensor, snr_range: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    # Windows are z-scored (power 1), so white noise of variance 10^(-snr/10) gives that SNR;
    # re-normalize afterwards, as the model always sees z-scored windows.
    snr = torch.empty((x.shape[0], 1, 1)).uniform_(snr_range[0], snr_range[1], generator=generator)
    power = x.pow(2).mean(dim=-1, keepdim=True)
    noisy = x + torch.randn(x.shape, generator=generator) * torch.sqrt(power / 10.0 ** (snr / 10.0))
    mean = noisy.mean(dim=-1, keepdim=True)
    std = noisy.std(dim=-1, keepdim=True, unbiased=False).clamp_min(1e-8)
    return (noisy - mean) / std


LANCZOS_TAPS = 4  # a = 4: 8 samples per output sample, flat to about 0.8 x Nyquist


def augment_speed(x: torch.Tensor, factor_range: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Return windows ``x`` (N, C, L) resampled in time by a factor drawn per window from
    ``factor_range``, about the window's centre, then z-scored.

    A factor above 1 plays the signal faster (every frequency times the factor), as a machine
    running faster would: a motor's speed changes a few percent with its load (CWRU: 1797 rpm at
    0 HP, 1750 rpm at 2 HP), which moves every fault frequency by as much. The interpolation is
    Lanczos (``LANCZOS_TAPS``): linear interpolation would low-pass the high-frequency bearing
    resonances the model relies on. Samples needed beyond the window's edges are mirrored.
    """
    n, _, length = x.shape
    factor = torch.empty((n, 1, 1)).uniform_(factor_range[0], factor_range[1], generator=generator)
    centre = (length - 1) / 2.0
    position = centre + (torch.arange(length, dtype=x.dtype).view(1, 1, -1) - centre) * factor
    base = position.floor()
    out = torch.zeros((n, x.shape[1], length), dtype=x.dtype)
    last = length - 1
    for tap in range(-LANCZOS_TAPS + 1, LANCZOS_TAPS + 1):
        index = base + tap
        distance = position - index
        weight = torch.sinc(distance) * torch.sinc(distance / LANCZOS_TAPS)
        index = index.abs()
        index = (last - (last - index).abs()).long().expand(-1, x.shape[1], -1)  # mirror at both edges
        out = out + x.gather(2, index) * weight
    mean = out.mean(dim=-1, keepdim=True)
    return (out - mean) / out.std(dim=-1, keepdim=True, unbiased=False).clamp_min(1e-8)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = 256, max_windows: int = 4096) -> None:
    """Re-estimate every BatchNorm's running statistics on clean windows ``x``, dropout off.

    Dropout before a BatchNorm (the changing-rate input dropout rescales what survives by
    1 / (1 - rate)) makes the running variance larger than what the layer sees in eval mode;
    averaging the statistics over clean training windows removes that shift. Leaves ``model``
    in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    model.eval()
    for norm in norms:
        norm.train()
    step = max(1, len(x) // max_windows)
    subset = x[::step][:max_windows]
    for start in range(0, len(subset), batch_size):
        model(subset[start : start + batch_size])
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()


@torch.no_grad()
def logits_of(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Return the logits of ``model`` (put in eval mode) on windows ``x``, batched."""
    model.eval()
    x = torch.as_tensor(x)
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else torch.zeros(0)


def _epoch_bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    # disable=None: tqdm turns the bar off when its stream is not a terminal, so logs get the
    # per-epoch lines and not hundreds of carriage-return updates.
    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=None if enabled else True, dynamic_ncols=True)


def train_one(
    config: TrainConfig,
    arch: dict[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    seed: int,
    *,
    progress: bool = True,
    label: str = "",
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train one model from scratch; return (model in eval mode with its best weights, history).

    Takes the config, the arch dict, train and validation windows, and the seed. The history
    has one entry per epoch: train loss and accuracy, validation loss and accuracy, seconds.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(arch["name"], **arch["params"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config.training.lr, weight_decay=config.training.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    x_train, y_train = torch.as_tensor(train[0]), torch.as_tensor(train[1])
    x_val, y_val = torch.as_tensor(val[0]), torch.as_tensor(val[1])
    schedule = None
    if config.training.lr_schedule == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.training.epochs)
    batch = config.tricks.batch_size
    best_key, best_state, stale, history = None, copy.deepcopy(model.state_dict()), 0, []
    for epoch in range(1, config.training.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        n_batches = (len(order) + batch - 1) // batch
        loss_sum, correct = 0.0, 0
        with _epoch_bar(n_batches, f"{label}epoch {epoch}/{config.training.epochs}", progress) as bar:
            for start in range(0, len(order), batch):
                index = order[start : start + batch]
                xb, yb = x_train[index], y_train[index]
                if config.tricks.speed_augmentation is not None:
                    xb = augment_speed(xb, config.tricks.speed_augmentation, generator)
                if config.tricks.noise_augmentation_snr_db is not None:
                    xb = _augment_with_noise(xb, config.tricks.noise_augmentation_snr_db, generator)
                optimizer.zero_grad(set_to_none=True)
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(index)
                correct += int((out.argmax(1) == yb).sum())
                bar.update(1)
                if bar.n % 20 == 0 or bar.n == n_batches:
                    bar.set_postfix(loss=f"{loss_sum / (start + len(index)):.4f}", acc=f"{correct / (start + len(index)):.3f}")
        if schedule is not None:
            schedule.step()
        if config.training.recalibrate_batchnorm and arch["params"].get("input_dropout") is not None:
            recalibrate_batchnorm(model, x_train)
        val_logits = logits_of(model, x_val)
        val_loss = float(loss_fn(val_logits, y_val))
        val_acc = float((val_logits.argmax(1) == y_val).float().mean())
        entry = {
            "epoch": epoch,
            "train_loss": loss_sum / len(order),
            "train_accuracy": correct / len(order),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": time.perf_counter() - started,
        }
        history.append(entry)
        if progress:
            from tqdm import tqdm

            tqdm.write(
                f"{label}epoch {epoch}: loss {entry['train_loss']:.4f} acc {entry['train_accuracy']:.4f}"
                f" | val loss {val_loss:.4f} acc {val_acc:.4f} ({entry['seconds']:.1f} s)"
            )
        if config.training.early_stopping == "val_loss":
            key = (-val_loss, val_acc)
        else:
            key = (val_acc, -val_loss)  # best accuracy, ties broken by the lower loss
        if best_key is None or key > best_key:
            best_key, best_state, stale = key, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if config.training.patience is not None and stale >= config.training.patience:
                break
    model.load_state_dict(best_state)
    return model.eval(), history


def train_ensemble(
    config: TrainConfig,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    n_classes: int,
    *,
    progress: bool = True,
) -> TrainedEnsemble:
    """Train ``config.tricks.ensemble`` members one after the other on samples ``train`` (x of
    shape (N, *input shape), y) and ``val``; return a TrainedEnsemble.

    Member ``i`` is seeded ``config.training.seed + i``.
    """
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    arch = model_arch(config, n_classes, tuple(np.asarray(train[0]).shape[1:]))
    started = time.perf_counter()
    result = TrainedEnsemble(arch=arch, members=[])
    n = config.tricks.ensemble
    for index in range(n):
        prefix = f"member {index + 1}/{n} " if n > 1 else ""
        model, history = train_one(config, arch, train, val, config.training.seed + index, progress=progress, label=prefix)
        result.members.append(model)
        result.history.append(history)
    result.seconds = time.perf_counter() - started
    return result
