"""Scalpel SIMD-aware weight pruning (Yu et al., ISCA 2017) for the Cortex-M4.

The int8 kernels read weights in TFLite layout: a conv's output channel is one vector in
(kernel position, input channel) order (OHWI; a PyTorch Conv1d weight ``(O, I, K)`` becomes
``weight.permute(0, 2, 1).reshape(O, K*I)``), and a linear layer fed by the flatten of an NC*
tensor reads its inputs channels-last (feature ``p*C + c`` instead of PyTorch's ``c*P + p``).
Groups are ``group_size`` consecutive elements of that vector (2 for one SMLAD pair, 4 for one
32-bit word of int8 weights); the last group of a row may be shorter. Whole groups with the
smallest L2 norms are pruned, per layer, and retraining holds them at exactly zero. Group size 1
is plain unstructured magnitude pruning.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pydantic import BaseModel, ConfigDict, Field

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.finetune import accuracy, fine_tune
from edge_deploy.slim.graph import analyze_channels
from edge_deploy.slim.registry import MethodOutcome, SlimMethod, register_method


def channels_last_permutation(channels: int, spatial: int) -> torch.Tensor:
    """Return ``perm`` with ``perm[p*channels + c] = c*spatial + p``: position ``j`` of the
    channels-last order reads element ``perm[j]`` of the channels-first (PyTorch) order."""
    return torch.arange(channels * spatial).reshape(channels, spatial).t().reshape(-1)


def kernel_order_permutation(module: nn.Module, flatten_input: Sequence[int] | None = None) -> torch.Tensor:
    """Return the column permutation from PyTorch's ``weight.reshape(O, -1)`` to the order the
    int8 kernel consumes one output channel's weights.

    Conv1d/Conv2d (groups 1): (kernel position, input channel). Linear: identity, or channels-last
    when its input is the flatten of an ``(C, *spatial)`` tensor (``flatten_input``).
    """
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return channels_last_permutation(module.weight.shape[1], math.prod(module.weight.shape[2:]))
    if isinstance(module, nn.Linear):
        if flatten_input is not None and len(flatten_input) > 1:
            return channels_last_permutation(flatten_input[0], math.prod(flatten_input[1:]))
        return torch.arange(module.in_features)
    raise TypeError(f"no kernel order for {type(module).__name__}")


def to_kernel_order(weight: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Return ``weight`` as ``(O, N)`` rows in kernel consumption order."""
    return weight.reshape(weight.shape[0], -1)[:, perm]


def from_kernel_order(rows: torch.Tensor, perm: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`to_kernel_order`: put kernel-ordered ``(O, N)`` rows back in ``shape``."""
    out = torch.empty_like(rows)
    out[:, perm] = rows
    return out.reshape(tuple(shape))


def _grouped(rows: np.ndarray | torch.Tensor, group_size: int) -> torch.Tensor:
    rows = torch.as_tensor(np.asarray(rows) if not isinstance(rows, torch.Tensor) else rows)
    rows = rows.reshape(rows.shape[0], -1).to(torch.float64)
    pad = (-rows.shape[1]) % group_size
    if pad:  # the row's last group is shorter; zeros do not change its norm
        rows = torch.nn.functional.pad(rows, (0, pad))
    return rows.reshape(rows.shape[0], -1, group_size)


@dataclass(frozen=True)
class GroupSparsity:
    """How many weight groups of a layer are entirely zero."""

    zero_groups: int
    total_groups: int

    @property
    def fraction(self) -> float:
        """Zero groups over all groups (0 for an empty layer)."""
        return self.zero_groups / self.total_groups if self.total_groups else 0.0


def group_sparsity_of(weight_in_kernel_order: np.ndarray | torch.Tensor, group_size: int) -> GroupSparsity:
    """Count the all-zero groups of ``group_size`` consecutive weights in each row.

    Takes a weight already in kernel order, shaped ``(O, ...)`` (int8 from a ``.tflite`` OHWI
    tensor, or float); every row is split into groups from its start, the last one possibly
    shorter. Returns a :class:`GroupSparsity`.
    """
    if group_size < 1:
        raise ValueError("group_size must be >= 1")
    groups = _grouped(weight_in_kernel_order, group_size)
    zero = int((groups == 0).all(dim=2).sum())
    return GroupSparsity(zero_groups=zero, total_groups=groups.shape[0] * groups.shape[1])


def group_sparse_bytes(weight_in_kernel_order: np.ndarray | torch.Tensor, group_size: int) -> int:
    """Return the flash bytes of an int8 weight in the group-sparse format: the kept groups'
    weights (``group_size`` bytes each), one index per kept group (1 byte when a row has at most
    256 groups, else 2) and one 16-bit kept-group count per row. Group size 1 is plain CSR."""
    groups = _grouped(weight_in_kernel_order, group_size)
    kept = int((groups != 0).any(dim=2).sum())
    index_bytes = 1 if groups.shape[1] <= 256 else 2
    return kept * (group_size + index_bytes) + 2 * groups.shape[0]


def group_mask(weight: torch.Tensor, perm: torch.Tensor, group_size: int, sparsity: float) -> torch.Tensor:
    """Return a 0/1 mask shaped like ``weight`` that zeroes the ``sparsity`` fraction of its
    kernel-order groups with the smallest L2 norms (one threshold for the whole layer)."""
    rows = to_kernel_order(weight.detach(), perm)
    norms = _grouped(rows, group_size).norm(dim=2)
    n_prune = int(math.floor(sparsity * norms.numel()))
    keep = torch.ones_like(norms, dtype=torch.bool)
    if n_prune > 0:
        # Stable order: equal norms are pruned from the first group on, deterministically.
        order = torch.argsort(norms.reshape(-1), stable=True)
        keep.reshape(-1)[order[:n_prune]] = False
    mask_rows = keep.unsqueeze(2).expand(-1, -1, group_size).reshape(keep.shape[0], -1)[:, : rows.shape[1]]
    return from_kernel_order(mask_rows.to(weight.dtype), perm, weight.shape)


@dataclass
class PrunableLayer:
    """A layer Scalpel may prune: its name, module and kernel-order permutation."""

    name: str
    module: nn.Module
    perm: torch.Tensor


def prunable_layers(model: nn.Module, example_input: torch.Tensor) -> list[PrunableLayer]:
    """Return the conv (groups 1) and linear layers of ``model`` in graph order, each with its
    kernel-order permutation (found by tracing ``model`` on ``example_input``)."""
    graph = analyze_channels(model, example_input)
    layers = []
    for name, kind in graph.module_kinds.items():
        if kind in ("conv", "linear"):
            module = model.get_submodule(name)
            if isinstance(module, nn.Linear) or module.groups == 1:
                layers.append(PrunableLayer(name, module, kernel_order_permutation(module, graph.flatten_inputs.get(name))))
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return sorted(layers, key=lambda layer: order[layer.name])


class MaskSet:
    """Pruning masks of one model, held during retraining: :meth:`apply` zeroes the pruned
    weights again (call it after every optimizer step)."""

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
        self.model = model
        self.masks = dict(masks)

    @torch.no_grad()
    def apply(self) -> None:
        """Multiply every masked weight by its mask, in place."""
        for name, mask in self.masks.items():
            self.model.get_submodule(name).weight.mul_(mask)


def prune_layers(model: nn.Module, layers: Sequence[PrunableLayer], sparsities: Mapping[str, float],
                 group_size: int) -> MaskSet:
    """Zero the weakest groups of every layer named in ``sparsities`` (in place) and return the
    masks. Layers in ``layers`` but not in ``sparsities`` stay dense."""
    masks = {}
    for layer in layers:
        if sparsities.get(layer.name, 0.0) > 0.0:
            module = model.get_submodule(layer.name)
            masks[layer.name] = group_mask(module.weight, layer.perm, group_size, sparsities[layer.name])
    held = MaskSet(model, masks)
    held.apply()
    return held


def sensitivity_sparsities(model: nn.Module, layers: Sequence[PrunableLayer], val: tuple[np.ndarray, np.ndarray],
                           group_size: int, max_layer_loss: float,
                           grid: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)) -> dict[str, dict[str, Any]]:
    """Choose each layer's sparsity alone: the largest in ``grid`` whose validation accuracy
    loss, without retraining, is at most ``max_layer_loss`` points. Returns
    ``{layer: {"sparsity": s, "curve": [[s, accuracy], ...]}}`` (sparsity 0 when none fits)."""
    base = accuracy(model, *val)
    chosen: dict[str, dict[str, Any]] = {}
    for layer in layers:
        original = model.get_submodule(layer.name).weight.detach().clone()
        curve, best = [], 0.0
        for sparsity in sorted(grid):
            prune_layers(model, [layer], {layer.name: sparsity}, group_size)
            acc = accuracy(model, *val)
            curve.append([sparsity, acc])
            if base - acc <= max_layer_loss:
                best = sparsity
            with torch.no_grad():
                model.get_submodule(layer.name).weight.copy_(original)
        chosen[layer.name] = {"sparsity": best, "curve": curve}
    return chosen


@dataclass
class ScalpelSettings:
    """Scalpel settings: ``sparsity`` is one fraction for every layer, a ``{layer: fraction}``
    map, or "sensitivity" (each layer's largest fraction losing at most ``max_layer_loss`` points
    alone); ``skip`` lists layers kept dense, and ``skip_classifier`` keeps the last layer (the
    classifier: small, and the most sensitive) dense too; ``retrain_epochs`` run with the masks held,
    split over ``stages`` steps of growing sparsity (gradual pruning: stage k prunes k/stages of
    each layer's target, then retrains; the groups pruned before stay pruned)."""

    group_size: int = 4
    sparsity: float | dict[str, float] | str = 0.75
    max_layer_loss: float = 0.5
    skip: list[str] = field(default_factory=list)
    skip_classifier: bool = True
    retrain_epochs: float = 6.0
    stages: int = 1
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    noise_snr_db: list[float] | None = None  # training noise augmentation (low, high) dB
    speed_augmentation: list[float] | None = None  # training time-resampling factors (low, high)


@dataclass
class ScalpelResult:
    """The pruned members and, per layer, the sparsity asked and the group sparsity reached."""

    members: list[nn.Module]
    layers: dict[str, dict[str, Any]]


def scalpel_prune(members: Sequence[nn.Module], train: tuple[np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray], settings: ScalpelSettings) -> ScalpelResult:
    """Prune copies of ``members`` group-wise in kernel order, retrain with the masks held, and
    return a :class:`ScalpelResult`. Raises EdgeDeployError for an unknown layer name, a bad group
    size or a sparsity outside [0, 1).
    """
    if settings.group_size < 1:
        raise EdgeDeployError(f"Scalpel group size {settings.group_size} must be >= 1",
                              hint="use 4 (one 32-bit word of int8 weights), 2 (an SMLAD pair) or 1 (unstructured)")
    models = [copy.deepcopy(m) for m in members]
    example = torch.as_tensor(train[0][:1])
    names = [layer.name for layer in prunable_layers(models[0], example)]
    unknown = sorted(set(settings.skip) | (set(settings.sparsity) if isinstance(settings.sparsity, dict) else set()))
    unknown = [n for n in unknown if n not in names]
    if unknown:
        raise EdgeDeployError(f"Scalpel: no prunable layer named {', '.join(unknown)}",
                              hint=f"prunable layers: {', '.join(names)}")
    skip = set(settings.skip) | ({names[-1]} if settings.skip_classifier and names else set())
    report: dict[str, dict[str, Any]] = {}
    for index, model in enumerate(models):
        layers = [layer for layer in prunable_layers(model, example) if layer.name not in skip]
        if settings.sparsity == "sensitivity":
            found = sensitivity_sparsities(model, layers, val, settings.group_size, settings.max_layer_loss)
            sparsities = {name: entry["sparsity"] for name, entry in found.items()}
        elif isinstance(settings.sparsity, dict):
            sparsities, found = dict(settings.sparsity), {}
        elif isinstance(settings.sparsity, (int, float)):
            sparsities, found = {layer.name: float(settings.sparsity) for layer in layers}, {}
        else:
            raise EdgeDeployError(f"Scalpel sparsity {settings.sparsity!r} is not a fraction, a map or 'sensitivity'",
                                  hint="write e.g. sparsity: 0.75")
        bad = {n: s for n, s in sparsities.items() if not 0.0 <= s < 1.0}
        if bad:
            raise EdgeDeployError(f"Scalpel sparsity out of [0, 1): {bad}", hint="use fractions such as 0.75")
        stages = max(1, settings.stages)
        for stage in range(1, stages + 1):
            # The groups pruned so far are zero, the smallest norms: each stage's mask keeps them.
            held = prune_layers(model, layers, {n: s * stage / stages for n, s in sparsities.items()},
                                settings.group_size)
            fine_tune(model, *train, epochs=settings.retrain_epochs / stages, batch_size=settings.batch_size,
                      lr=settings.lr, seed=settings.seed + 1000 * (stage - 1) + index, after_step=held.apply,
                      noise_snr_db=settings.noise_snr_db, speed_range=settings.speed_augmentation)
            held.apply()
        if index == 0:
            for layer in layers:
                rows = to_kernel_order(model.get_submodule(layer.name).weight.detach(), layer.perm)
                reached = group_sparsity_of(rows, settings.group_size)
                report[layer.name] = {"sparsity": sparsities.get(layer.name, 0.0),
                                      "zero_groups": reached.zero_groups, "total_groups": reached.total_groups,
                                      **({"curve": found[layer.name]["curve"]} if layer.name in found else {})}
    return ScalpelResult(members=models, layers=report)


class ScalpelSection(BaseModel):
    """The ``scalpel:`` config section (see :class:`ScalpelSettings`); ``sparsity`` None = the
    largest saving within the accuracy budget, searched over the method's grid."""

    model_config = ConfigDict(extra="forbid")

    group_size: int = Field(4, ge=1)
    sparsity: float | dict[str, float] | Literal["sensitivity"] | None = None
    max_layer_loss: float = Field(0.5, ge=0.0)
    skip: list[str] = Field(default_factory=list)
    skip_classifier: bool = True
    retrain_epochs: float = Field(6.0, ge=0.0)
    stages: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0.0)
    seed: int = 0

    def settings(self, noise_snr_db: list[float] | None = None,
                 speed_augmentation: list[float] | None = None) -> ScalpelSettings:
        """The equivalent ScalpelSettings, retraining with ``noise_snr_db`` and
        ``speed_augmentation`` (training's augmentation ranges).
        Raises EdgeDeployError when the sparsity is not chosen yet."""
        if self.sparsity is None:
            raise EdgeDeployError("Scalpel sparsity not set", hint="give --sparsity, or let edge-deploy slim search it")
        return ScalpelSettings(**self.model_dump(), noise_snr_db=noise_snr_db, speed_augmentation=speed_augmentation)


def _run(members: Sequence[nn.Module], data, section: ScalpelSection, augmentation: dict[str, Any]) -> MethodOutcome:
    result = scalpel_prune(members, data.train, data.val, section.settings(**augmentation))
    return MethodOutcome(result.members, {"settings": {**section.model_dump(), **augmentation},
                                          "layers": result.layers})


METHOD = register_method(SlimMethod(
    name="scalpel", section=ScalpelSection, knob="sparsity", grid=(0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
    run=_run, summary="Scalpel: zeroes groups of weights in the int8 kernel's order (group-sparse kernels)"))
