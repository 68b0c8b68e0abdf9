"""Activation pruning (Integral Pruning, ICLR 2019): after every ReLU keep only a per-layer
"winner rate" fraction of the largest activations and zero the rest, so kernels can skip them.

Each layer's rate comes from a sensitivity sweep: the smallest rate whose accuracy loss, with only
that layer pruned, fits the budget; then rates are relaxed, most damaging layer first, until all
layers pruned together fit the budget too.

Two ways to pick the winners: "threshold" (default) zeroes activations at or below a per-layer
value calibrated so that on average ``rate`` of them survive -- one compare per activation, what
the firmware can afford; "topk" keeps exactly the ``ceil(rate * n)`` largest per sample, as in the
paper. The plan is stored in the checkpoint under ``arch["slim"]["activation"]`` (see
:meth:`ActivationPlan.to_dict`); thresholds are in float activation units (divide by the ReLU
output's int8 scale, add its zero point, to get the int8 value). The pruner module and applying
a plan to a model are :mod:`edge_deploy.models.pruning`'s, since every stage that runs the model
needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from pydantic import BaseModel, ConfigDict, Field

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models.pruning import WinnerTakeAll, pruned_members, with_activation_pruning
from edge_deploy.models.tracing import trace_with_shapes
from edge_deploy.slim.finetune import accuracy
from edge_deploy.slim.registry import MethodOutcome, SlimMethod, register_method

MODES = ("threshold", "topk")
DEFAULT_RATES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ActivationSite:
    """One ReLU output: its order in the graph, fx node name, ReLU module name (None for a
    functional relu) and per-sample shape."""

    index: int
    node: str
    module: str | None
    shape: tuple[int, ...]


def activation_sites(model: nn.Module, example_input: torch.Tensor) -> list[ActivationSite]:
    """Return the ReLU outputs of ``model`` in graph order (traced on ``example_input``)."""
    gm = trace_with_shapes(model, example_input)
    sites = []
    for node in gm.graph.nodes:
        is_relu = (node.op == "call_module" and isinstance(gm.get_submodule(node.target), nn.ReLU)) \
            or (node.op == "call_function" and node.target in (torch.relu, F.relu)) \
            or (node.op == "call_method" and node.target == "relu")
        if is_relu:
            shape = tuple(node.meta["tensor_meta"].shape[1:])
            module = str(node.target) if node.op == "call_module" else None
            sites.append(ActivationSite(len(sites), node.name, module, shape))
    return sites


@torch.no_grad()
def calibrate_thresholds(model: nn.Module, sites: Sequence[ActivationSite], rates: Sequence[float],
                         x: np.ndarray | torch.Tensor) -> dict[tuple[str, float], float]:
    """Return ``{(node, rate): threshold}``: the value above which a ``rate`` fraction of the
    site's activations lie on windows ``x``, for every site and rate (the model unpruned)."""
    x = torch.as_tensor(x)
    probes = {s.node: _Recorder() for s in sites}
    gm = with_activation_pruning(model, x[:1], probes)
    for start in range(0, len(x), 256):
        gm(x[start : start + 256])
    return {(node, r): probe.quantile(1.0 - r) for node, probe in probes.items() for r in rates}


class _Recorder(WinnerTakeAll):
    def __init__(self) -> None:
        super().__init__(rate=1.0)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().reshape(-1))
        return x

    def quantile(self, q: float) -> float:
        values = torch.cat(self.seen).numpy()
        return float(np.quantile(values, q, method="lower"))


@dataclass
class ActivationPlan:
    """The chosen winner rate and threshold of every site, and the sweep behind them."""

    mode: str
    budget: float
    base_accuracy: float
    accuracy: float
    sites: list[dict[str, Any]] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        """``{node: winner rate}`` of every site."""
        return {s["node"]: s["winner_rate"] for s in self.sites}

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as plain data for ``arch["slim"]["activation"]``."""
        return {"mode": self.mode, "budget": self.budget, "base_accuracy": self.base_accuracy,
                "accuracy": self.accuracy, "sites": [dict(s) for s in self.sites]}


def _plan_dict(sites, rates, thresholds, mode) -> dict[str, Any]:
    return {"mode": mode, "sites": [
        {"node": s.node, "winner_rate": rates.get(s.node, 1.0),
         "threshold": [t.get(s.node, 0.0) for t in thresholds]} for s in sites]}


@torch.no_grad()
def density(model: nn.Module, site: ActivationSite, x: torch.Tensor) -> float:
    """Fraction of nonzero activations at ``site`` of ``model`` on ``x``: after its pruner when
    ``model`` is one returned by :func:`with_activation_pruning`, else after the ReLU."""
    seen: list[torch.Tensor] = []
    pruner = dict(model.named_modules()).get(f"winner_take_all_{site.node}")
    if pruner is not None:
        handle = pruner.register_forward_hook(lambda _m, _i, out: seen.append(out.reshape(-1)))
        try:
            model(x)
        finally:
            handle.remove()
    else:
        probe = _Recorder()
        with_activation_pruning(model, x[:1], {site.node: probe})(x)
        seen = probe.seen
    return float((torch.cat(seen) != 0).float().mean())


def choose_winner_rates(members: Sequence[nn.Module], calibration: np.ndarray, val: tuple[np.ndarray, np.ndarray],
                        budget: float, mode: str = "threshold", grid: Sequence[float] = DEFAULT_RATES) -> ActivationPlan:
    """Choose every ReLU's winner rate by a sensitivity sweep against ``budget`` (accuracy points
    on ``val``); thresholds are calibrated on ``calibration`` windows. Returns an
    :class:`ActivationPlan`. Raises EdgeDeployError for an unknown mode or when no layer can be
    pruned at any rate of ``grid`` within the budget.
    """
    if mode not in MODES:
        raise EdgeDeployError(f"activation pruning mode {mode!r} is unknown", hint=f"use one of {', '.join(MODES)}")
    example = torch.as_tensor(calibration[:1])
    sites = activation_sites(members[0], example)
    grid = sorted({float(r) for r in grid if 0.0 < r < 1.0})
    # One calibration pass per member gives every (site, rate) threshold.
    table = [calibrate_thresholds(m, sites, grid, calibration) for m in members] \
        if mode == "threshold" else [{} for _ in members]

    def evaluate(rates: dict[str, float]) -> float:
        chosen = [{n: t.get((n, r), 0.0) for n, r in rates.items()} for t in table]
        plan = _plan_dict(sites, rates, chosen, mode)
        return accuracy(pruned_members(members, plan, example), *val)

    base = accuracy(list(members), *val)
    sensitivity: dict[str, list[list[float]]] = {}
    rates: dict[str, float] = {}
    for site in sites:
        sensitivity[site.node] = []
        rates[site.node] = 1.0
        for rate in grid:
            acc = evaluate({site.node: rate})
            sensitivity[site.node].append([rate, acc])
            if base - acc <= budget and rates[site.node] == 1.0:
                rates[site.node] = rate
    if all(r == 1.0 for r in rates.values()):
        best = min(((base - acc, s, r) for s, curve in sensitivity.items() for r, acc in curve), key=lambda t: t[0])
        raise EdgeDeployError(
            f"activation pruning cannot meet the accuracy-loss budget of {budget} points: the gentlest "
            f"pruning (winner rate {best[2]} at {best[1]}) already loses {best[0]:.2f} points",
            hint="raise the budget (--budget) or add larger winner rates to the sweep",
        )
    combined = evaluate(rates)
    while base - combined > budget:
        # Relax the site that loses most alone at its current rate by one step of the grid.
        def loss_at(node: str) -> float:
            return next(base - acc for r, acc in sensitivity[node] if r == rates[node])
        worst = max((n for n in rates if rates[n] < 1.0), key=loss_at)
        larger = [r for r in grid if r > rates[worst]]
        rates[worst] = larger[0] if larger else 1.0
        if all(r == 1.0 for r in rates.values()):
            raise EdgeDeployError(
                f"activation pruning cannot meet the accuracy-loss budget of {budget} points with all "
                f"layers pruned together", hint="raise the budget (--budget)")
        combined = evaluate(rates)
    final = [{n: t.get((n, r), 0.0) for n, r in rates.items()} for t in table]
    x_cal = torch.as_tensor(calibration[:256])
    pruned = pruned_members(members[:1], _plan_dict(sites, rates, final, mode), example)[0]
    entries = []
    for site in sites:
        entries.append({
            "index": site.index, "node": site.node, "module": site.module, "shape": list(site.shape),
            "winner_rate": rates[site.node], "threshold": [t[site.node] for t in final],
            "density_before": density(members[0], site, x_cal), "density_after": density(pruned, site, x_cal),
            "sensitivity": sensitivity[site.node],
        })
    return ActivationPlan(mode=mode, budget=budget, base_accuracy=base, accuracy=combined, sites=entries)


class ActivationSection(BaseModel):
    """The ``activation:`` config section: the accuracy-loss ``budget`` (validation points;
    None = the run's ``max_accuracy_loss``), the winner ``mode``, the winner ``rates`` tried per
    layer, and the training windows the thresholds are calibrated on."""

    model_config = ConfigDict(extra="forbid")

    budget: float | None = Field(None, ge=0.0)
    mode: Literal["threshold", "topk"] = "threshold"
    rates: list[float] = Field(default_factory=lambda: list(DEFAULT_RATES))
    calibration_windows: int = Field(512, ge=1)


def _run(members: Sequence[nn.Module], data, section: ActivationSection, augmentation: dict[str, Any]) -> MethodOutcome:
    if section.budget is None:
        raise EdgeDeployError("activation pruning budget not set", hint="give --budget")
    pick = np.random.default_rng(0).permutation(len(data.train[0]))[: section.calibration_windows]
    plan = choose_winner_rates(members, data.train[0][pick], data.val, section.budget, section.mode, section.rates)
    return MethodOutcome(list(members), {"settings": section.model_dump(), "plan": plan.to_dict()}, plan.to_dict())


METHOD = register_method(SlimMethod(
    name="activation", section=ActivationSection, knob="budget", grid=(), run=_run, must_be_last=True,
    summary="activation pruning: zeroes small activations after each ReLU (a threshold per layer)"))
