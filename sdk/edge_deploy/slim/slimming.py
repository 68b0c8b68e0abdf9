"""Network Slimming (Liu et al., ICCV 2017): L1 on batch-norm scales, one global threshold,
physical channel removal, fine-tuning, several passes.

The channels are the groups of :mod:`edge_deploy.slim.graph`; a group's importance is the largest
``|gamma|`` of the batch-norm entries it holds. An ensemble's members are slimmed to the *same*
widths (one ``arch`` describes them all): the global threshold is taken over every member's
gammas, each layer keeps the mean of the members' surviving counts, and each member keeps its own
most important channels.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from pydantic import BaseModel, ConfigDict, Field

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.finetune import accuracy, fine_tune
from edge_deploy.slim.graph import ChannelGraph, analyze_channels
from edge_deploy.slim.registry import MethodOutcome, SlimMethod, register_method
from edge_deploy.slim.surgery import remove_channels


@dataclass
class SlimmingSettings:
    """Network Slimming settings.

    ``ratio`` is the fraction of prunable channels removed in total, spread evenly (geometrically)
    over ``passes``; ``l1_lambda`` weighs the L1 penalty during the ``sparsity_epochs`` before each
    removal; ``finetune_epochs`` follow each removal; every layer keeps ``min_channels``, and
    its kept count is rounded up to a multiple of ``channel_multiple`` (4: the SIMD kernels run
    channels in blocks of four, so 7 channels cost as much as 8 and take the slower edge path;
    1 keeps the paper's exact selection).
    """

    ratio: float = 0.5
    l1_lambda: float = 1e-3
    passes: int = 2
    sparsity_epochs: float = 4.0
    finetune_epochs: float = 4.0
    batch_size: int = 32
    lr: float = 1e-3
    min_channels: int = 1
    channel_multiple: int = 4
    seed: int = 0
    noise_snr_db: list[float] | None = None  # training noise augmentation (low, high) dB
    speed_augmentation: list[float] | None = None  # training time-resampling factors (low, high)

    def pass_ratio(self) -> float:
        """The fraction of the remaining prunable channels each pass removes."""
        return 1.0 - (1.0 - self.ratio) ** (1.0 / self.passes)


@dataclass
class SlimmingResult:
    """The slimmed members and what each pass did (thresholds, widths, accuracy)."""

    members: list[nn.Module]
    passes: list[dict[str, Any]] = field(default_factory=list)


def batchnorm_l1(model: nn.Module) -> torch.Tensor:
    """Return ``sum |gamma|`` over every batch-norm scale of ``model`` (the sparsity penalty)."""
    terms = [m.weight.abs().sum() for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def group_importance(model: nn.Module, graph: ChannelGraph) -> dict[int, float]:
    """Return ``{group id: max |gamma|}`` for every prunable group holding batch-norm entries."""
    scores: dict[int, float] = {}
    for group in graph.prunable_groups():
        slots = graph.batchnorm_slots(group)
        if slots:
            scores[group.id] = max(abs(float(model.get_submodule(s.module).weight.detach()[s.index])) for s in slots)
    return scores


def _layer_key(graph: ChannelGraph, gid: int) -> tuple[str, ...]:
    # A "layer" is the set of modules producing a channel (one conv, or several tied by adds).
    group = next(g for g in graph.groups if g.id == gid)
    return tuple(group.modules("out"))


def choose_channels_to_remove(members: Sequence[nn.Module], graph: ChannelGraph, ratio: float,
                              min_channels: int = 1, channel_multiple: int = 1) -> tuple[list[set[int]], float]:
    """Pick the groups each member drops: those below the global ``ratio`` percentile of all
    members' gammas, with every layer's count equal across members, at least ``min_channels``
    and rounded up to a multiple of ``channel_multiple`` (never above the layer's width).

    Returns (one set of group ids per member, the threshold). ``graph`` must describe all members
    (they share one architecture).
    """
    scores = [group_importance(m, graph) for m in members]
    every = np.array([s for member in scores for s in member.values()], dtype=np.float64)
    if every.size == 0:
        return [set() for _ in members], 0.0
    n_drop = int(math.floor(ratio * every.size))
    threshold = float(np.sort(every)[n_drop]) if n_drop < every.size else math.inf
    layers: dict[tuple[str, ...], list[int]] = {}
    for gid in scores[0]:
        layers.setdefault(_layer_key(graph, gid), []).append(gid)
    drops: list[set[int]] = [set() for _ in members]
    for gids in layers.values():
        survivors = [sum(member[g] >= threshold for g in gids) for member in scores]
        keep = max(min(len(gids), min_channels), int(round(sum(survivors) / len(members))))
        keep = min(len(gids), -(-keep // channel_multiple) * channel_multiple)
        for member, drop in zip(scores, drops):
            ranked = sorted(gids, key=lambda g: (-member[g], g))
            drop.update(ranked[keep:])
    return drops, threshold


def channel_widths(model: nn.Module) -> dict[str, int]:
    """Return ``{name: output channels}`` of every conv, linear and batch-norm layer."""
    widths = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            widths[name] = module.out_channels
        elif isinstance(module, nn.Linear):
            widths[name] = module.out_features
    return widths


def slim_network(
    members: Sequence[nn.Module],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    settings: SlimmingSettings,
) -> SlimmingResult:
    """Run Network Slimming on copies of ``members`` with the ``train`` windows and labels,
    reporting validation accuracy per pass. Returns a :class:`SlimmingResult`.

    Raises EdgeDeployError when the settings are out of range or the model has no batch-norm
    channel that may be removed.
    """
    if (not 0.0 <= settings.ratio < 1.0 or settings.passes < 1 or settings.min_channels < 1
            or settings.channel_multiple < 1):
        raise EdgeDeployError(
            f"slimming ratio {settings.ratio}, passes {settings.passes}, min_channels "
            f"{settings.min_channels}, channel_multiple {settings.channel_multiple} are out of range",
            hint="use 0 <= ratio < 1, passes >= 1, min_channels >= 1 and channel_multiple >= 1",
        )
    models = [copy.deepcopy(m) for m in members]
    example = torch.as_tensor(train[0][:1])
    history: list[dict[str, Any]] = []
    for number in range(1, settings.passes + 1):
        for index, model in enumerate(models):
            fine_tune(model, *train, epochs=settings.sparsity_epochs, batch_size=settings.batch_size,
                      lr=settings.lr, seed=settings.seed + index,
                      penalty=lambda m: settings.l1_lambda * batchnorm_l1(m), noise_snr_db=settings.noise_snr_db,
                      speed_range=settings.speed_augmentation)
        graph = analyze_channels(models[0], example)
        if not any(graph.batchnorm_slots(g) for g in graph.prunable_groups()):
            raise EdgeDeployError(
                f"{type(models[0]).__name__} has no batch-norm channel that may be removed",
                hint="Network Slimming needs conv/linear layers followed by BatchNorm; "
                     "use --method scalpel for weight pruning instead",
            )
        drops, threshold = choose_channels_to_remove(models, graph, settings.pass_ratio(), settings.min_channels,
                                                     settings.channel_multiple)
        models = [remove_channels(m, graph, drop) for m, drop in zip(models, drops)]
        for index, model in enumerate(models):
            fine_tune(model, *train, epochs=settings.finetune_epochs, batch_size=settings.batch_size,
                      lr=settings.lr, seed=settings.seed + 100 * number + index, noise_snr_db=settings.noise_snr_db,
                      speed_range=settings.speed_augmentation)
        history.append({
            "pass": number,
            "threshold": threshold,
            "removed_channels": len(drops[0]),
            "widths": channel_widths(models[0]),
            "val_accuracy": accuracy(models, *val),
        })
    return SlimmingResult(members=models, passes=history)



class SlimmingSection(BaseModel):
    """The ``slimming:`` config section (see :class:`SlimmingSettings`); ``ratio`` None = the
    largest saving within the accuracy budget, searched over the method's grid."""

    model_config = ConfigDict(extra="forbid")

    ratio: float | None = Field(None, ge=0.0, lt=1.0)
    l1_lambda: float = Field(1e-3, ge=0.0)
    passes: int = Field(2, ge=1)
    sparsity_epochs: float = Field(4.0, ge=0.0)
    finetune_epochs: float = Field(4.0, ge=0.0)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    min_channels: int = Field(1, ge=1)
    channel_multiple: int = Field(4, ge=1)
    seed: int = 0

    def settings(self, noise_snr_db: list[float] | None = None,
                 speed_augmentation: list[float] | None = None) -> SlimmingSettings:
        """The equivalent SlimmingSettings, fine-tuning with ``noise_snr_db`` and
        ``speed_augmentation`` (training's augmentation ranges).
        Raises EdgeDeployError when the ratio is not chosen yet."""
        if self.ratio is None:
            raise EdgeDeployError("slimming ratio not set", hint="give --ratio, or let edge-deploy slim search it")
        return SlimmingSettings(**self.model_dump(), noise_snr_db=noise_snr_db, speed_augmentation=speed_augmentation)


def _run(members: Sequence[nn.Module], data, section: SlimmingSection, augmentation: dict[str, Any]) -> MethodOutcome:
    result = slim_network(members, data.train, data.val, section.settings(**augmentation))
    return MethodOutcome(result.members, {"settings": {**section.model_dump(), **augmentation},
                                          "passes": result.passes})


METHOD = register_method(SlimMethod(
    name="slimming", section=SlimmingSection, knob="ratio", grid=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8), run=_run,
    summary="Network Slimming: removes whole channels (a smaller dense model)"))
