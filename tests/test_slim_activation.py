"""Activation pruning: winner-take-all, the sensitivity sweep, the budget error, the stored plan."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model
from edge_deploy.models.pruning import WinnerTakeAll, pruned_members, with_activation_pruning
from edge_deploy.slim.activation import activation_sites, choose_winner_rates, density
from edge_deploy.slim.finetune import accuracy, fine_tune

torch.set_num_threads(1)


def test_winner_take_all_modes():
    x = torch.relu(torch.randn(3, 4, 10))
    top = WinnerTakeAll(0.25, "topk")(x)
    assert ((top != 0).reshape(3, -1).sum(dim=1) <= math.ceil(0.25 * 40)).all()
    for row, kept in zip(x.reshape(3, -1), top.reshape(3, -1)):
        k = int((kept != 0).sum())
        assert torch.equal(kept[kept != 0].sort().values, row.topk(k).values.sort().values)
    thr = WinnerTakeAll(0.5, "threshold", threshold=0.7)(x)
    assert torch.equal(thr, torch.where(x > 0.7, x, torch.zeros_like(x)))
    assert torch.equal(WinnerTakeAll(1.0, "topk")(x), x)


@pytest.fixture(scope="module")
def tiny():
    x, y, _ = load_windows(None, "train", window=512)
    xv, yv, _ = load_windows(None, "val", window=512)
    model = build_model("ticnn", input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1],
                        paddings=[6, 1, 1], fc_units=16, input_dropout=None)
    fine_tune(model, x, y, epochs=3, lr=3e-3)
    return model, x[::20], (xv[::3], yv[::3])


def test_sites_and_identity_when_nothing_is_pruned(tiny):
    model, cal, _ = tiny
    example = torch.as_tensor(cal[:1])
    sites = activation_sites(model, example)
    assert [s.module for s in sites] == ["relu1", "relu2", "relu3", "relu_fc1"]
    assert sites[-1].shape == (16,) and sites[0].shape == (4, 128)
    x = torch.as_tensor(cal[:8])
    same = with_activation_pruning(model, example, {s.node: WinnerTakeAll(1.0) for s in sites})
    assert torch.equal(same(x), model.eval()(x))


def test_sweep_meets_budget_and_plan_reapplies(tiny):
    model, cal, val = tiny
    plan = choose_winner_rates([model], cal, val, budget=2.0, mode="threshold")
    base = accuracy(model, *val)
    assert plan.base_accuracy == base and base - plan.accuracy <= 2.0
    assert any(s["winner_rate"] < 1.0 for s in plan.sites)
    stored = plan.to_dict()
    again = pruned_members([model], stored, torch.as_tensor(cal[:1]))
    assert accuracy(again, *val) == plan.accuracy
    assert sum(s["density_after"] * np.prod(s["shape"]) for s in plan.sites) < \
        sum(s["density_before"] * np.prod(s["shape"]) for s in plan.sites)
    # Alone, each calibrated threshold keeps at most about its winner rate of the activations.
    sites = activation_sites(model, torch.as_tensor(cal[:1]))
    for site, entry in zip(sites, plan.sites):
        only = {**stored, "sites": [e if e is entry else {**e, "winner_rate": 1.0} for e in plan.sites]}
        kept = density(pruned_members([model], only, torch.as_tensor(cal[:1]))[0], site, torch.as_tensor(cal))
        assert kept <= min(entry["winner_rate"], entry["density_before"]) + 0.01


def test_budget_that_cannot_be_met_stops_with_a_clear_error(tiny):
    model, cal, val = tiny
    with pytest.raises(EdgeDeployError, match="cannot meet the accuracy-loss budget of 0.0 points"):
        choose_winner_rates([model], cal, val, budget=0.0, mode="topk", grid=(0.01,))
    with pytest.raises(EdgeDeployError, match="mode 'median' is unknown"):
        choose_winner_rates([model], cal, val, budget=1.0, mode="median")
