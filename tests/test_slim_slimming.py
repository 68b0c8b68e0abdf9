"""Network Slimming: the L1 penalty, the global threshold, removal and a reloadable checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model
from edge_deploy.slim.checkpoints import arch_for, slimmed_checkpoint
from edge_deploy.slim.cost import model_cost
from edge_deploy.slim.finetune import accuracy, fine_tune
from edge_deploy.slim.graph import analyze_channels
from edge_deploy.slim.slimming import (
    SlimmingSettings,
    batchnorm_l1,
    choose_channels_to_remove,
    slim_network,
)
from edge_deploy.slim.surgery import remove_channels
from edge_deploy.train.checkpoint import Checkpoint, checkpoint_from_dict

torch.set_num_threads(1)
TINY = dict(input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1], paddings=[6, 1, 1], fc_units=16)


@pytest.fixture(scope="module")
def data():
    x, y, _ = load_windows(None, "train", window=512)
    xv, yv, _ = load_windows(None, "val", window=512)
    pick = np.random.default_rng(1).permutation(len(x))[:1200]
    return (x[pick], y[pick]), (xv[:300], yv[:300])


def _set_gammas(model: nn.Module, values: dict[str, list[float]]) -> None:
    with torch.no_grad():
        for name, gammas in values.items():
            model.get_submodule(name).weight.copy_(torch.tensor(gammas))


def test_global_threshold_drops_the_smallest_gammas_and_keeps_one_per_layer():
    model = build_model("ticnn", **TINY).eval()
    _set_gammas(model, {"bn1": [0.01, 0.02, 0.03, 0.04],  # all below the threshold
                        "bn2": [0.9, 0.05, 0.8, 0.06, 0.7, 0.07, 0.6, 0.5],
                        "bn3": [1.0, 0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.08]})
    graph = analyze_channels(model, torch.zeros(1, 1, 512))
    (drop,), threshold = choose_channels_to_remove([model], graph, ratio=0.4, min_channels=1)
    # 20 gammas, ratio 0.4: the 8 smallest (0.01 .. 0.08) fall below the threshold 0.45.
    assert threshold == pytest.approx(0.45)
    pruned = remove_channels(model, graph, drop)
    assert pruned.bn1.num_features == 1 and pruned.bn1.weight.item() == pytest.approx(0.04)
    assert sorted(pruned.bn2.weight.tolist()) == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert pruned.bn3.num_features == 7 and pruned.conv2.in_channels == 1
    assert pruned.fc1.in_features == 7 * 16


def test_kept_channels_round_up_to_the_kernel_block():
    model = build_model("ticnn", **TINY).eval()
    _set_gammas(model, {"bn1": [0.01, 0.02, 0.03, 0.04],
                        "bn2": [0.9, 0.05, 0.8, 0.06, 0.7, 0.07, 0.6, 0.5],
                        "bn3": [1.0, 0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.08]})
    graph = analyze_channels(model, torch.zeros(1, 1, 512))
    # ratio 0.75: the threshold is 0.8, so 1 (the minimum), 2 and 3 channels survive; rounded up
    # to blocks of four, every layer keeps its four largest gammas.
    (drop,), threshold = choose_channels_to_remove([model], graph, ratio=0.75, min_channels=1, channel_multiple=4)
    assert threshold == pytest.approx(0.8)
    pruned = remove_channels(model, graph, drop)
    assert [pruned.bn1.num_features, pruned.bn2.num_features, pruned.bn3.num_features] == [4, 4, 4]
    assert sorted(pruned.bn2.weight.tolist()) == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert sorted(pruned.bn3.weight.tolist()) == pytest.approx([0.75, 0.85, 0.95, 1.0])
    (exact,), _ = choose_channels_to_remove([model], graph, ratio=0.75, min_channels=1, channel_multiple=1)
    assert len(exact) > len(drop)


def test_ensemble_members_get_the_same_widths():
    a, b = build_model("ticnn", **TINY).eval(), build_model("ticnn", **TINY).eval()
    _set_gammas(a, {"bn2": [1, 1, 1, 1, 0, 0, 0, 0]})
    _set_gammas(b, {"bn2": [0, 0, 0, 0, 1, 1, 1, 0]})
    graph = analyze_channels(a, torch.zeros(1, 1, 512))
    drops, _ = choose_channels_to_remove([a, b], graph, ratio=0.3)
    pa, pb = remove_channels(a, graph, drops[0]), remove_channels(b, graph, drops[1])
    assert [m.shape for m in pa.state_dict().values()] == [m.shape for m in pb.state_dict().values()]
    assert pa.bn2.weight.min() > 0 and pb.bn2.weight.max() == 1  # each keeps its own best channels


def test_l1_penalty_pushes_gammas_down(data):
    train, _ = data
    plain, sparse = build_model("ticnn", **TINY), build_model("ticnn", **TINY)
    sparse.load_state_dict(plain.state_dict())
    fine_tune(plain, *train, epochs=0.5, lr=0.02)
    fine_tune(sparse, *train, epochs=0.5, lr=0.02, penalty=lambda m: 0.05 * batchnorm_l1(m))
    assert batchnorm_l1(sparse).item() < 0.8 * batchnorm_l1(plain).item()


def test_slim_network_gives_a_smaller_reloadable_checkpoint(data):
    train, val = data
    model = build_model("ticnn", **TINY)
    fine_tune(model, *train, epochs=1)
    # channel_multiple 1: the paper's exact selection (blocks of four would keep this 4-8-8 model whole)
    result = slim_network([model], train, val, SlimmingSettings(ratio=0.5, passes=2, sparsity_epochs=0.3,
                                                                finetune_epochs=0.3, l1_lambda=1e-3,
                                                                channel_multiple=1))
    slim = result.members[0]
    before, after = model_cost(model, (1, 512)), model_cost(slim, (1, 512))
    assert after.params < before.params and after.macs < before.macs
    assert len(result.passes) == 2 and all(0 <= p["val_accuracy"] <= 100 for p in result.passes)
    # Two passes of 1 - sqrt(0.5): 20 -> 15 -> 11 channels (one more per layer kept whole at most).
    assert 11 <= sum(slim.get_submodule(f"bn{i}").num_features for i in (1, 2, 3)) <= 13

    source = Checkpoint(arch={"name": "ticnn", "params": dict(TINY)}, members=[model],
                        input={"channels": 1, "length": 512, "sample_rate_hz": 12000}, classes=[str(i) for i in range(10)],
                        data={"data": None, "window": 512})
    new = slimmed_checkpoint(source, [slim], {"method": "slimming", "summary": {"params_after": after.params}})
    reloaded = checkpoint_from_dict(new.to_dict())
    assert reloaded.arch["params"]["channels"] == [slim.conv1.out_channels, slim.conv2.out_channels, slim.conv3.out_channels]
    assert reloaded.arch["slim"]["history"][0]["method"] == "slimming"
    assert reloaded.metrics["slim"]["params_after"] == after.params
    x = torch.as_tensor(val[0][:20])
    assert torch.equal(reloaded.model(x), slim.eval()(x))
    assert accuracy(reloaded.members, *val) == accuracy([slim], *val)


class _NoWidths(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 3)
        self.bn = nn.BatchNorm1d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=2))


def test_unknown_architecture_cannot_be_described_after_slimming(monkeypatch):
    from edge_deploy.models import registry

    monkeypatch.setitem(registry._BUILDERS, "nowidths", _NoWidths)
    model = _NoWidths()
    model.conv = nn.Conv1d(1, 2, 3)
    model.bn = nn.BatchNorm1d(2)
    model.fc = nn.Linear(2, 2)
    with pytest.raises(EdgeDeployError, match="no width parameters"):
        arch_for({"name": "nowidths", "params": {}}, model)
    assert arch_for({"name": "nowidths", "params": {}}, _NoWidths()) == {"name": "nowidths", "params": {}}


def test_training_noise_has_the_asked_snr_and_stays_z_scored():
    from edge_deploy.slim.finetune import add_training_noise

    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, 2048)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True)
    noisy = add_training_noise(x, (0.0, 0.0), g)
    assert torch.allclose(noisy.mean(-1), torch.zeros(200, 1), atol=1e-5)
    assert torch.allclose(noisy.pow(2).mean(-1), torch.ones(200, 1), atol=1e-4)
    # At 0 dB signal and noise have equal power: the clean part keeps correlation 1/sqrt(2).
    corr = (noisy * x).mean(-1)
    assert abs(corr.mean().item() - 2 ** -0.5) < 0.01
