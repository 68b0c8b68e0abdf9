"""``edge-deploy slim``: chained methods, slim.json, reloadable checkpoints, the sweep and its stop."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from edge_deploy.cli import main
from edge_deploy.data import SAMPLE_RATE_HZ, load_windows
from edge_deploy.models import build_model
from edge_deploy.models.pruning import pruned_members
from edge_deploy.slim.finetune import accuracy, fine_tune
from edge_deploy.slim.scalpel import group_sparsity_of, prunable_layers, to_kernel_order
from edge_deploy.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

torch.set_num_threads(1)
SPEC = {"data": None, "load_hp": [0], "window": 512, "stride": 128, "fractions": [0.7, 0.1]}
PARAMS = dict(input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1], paddings=[6, 1, 1],
              fc_units=16, input_dropout=None)


def _trained_checkpoint(directory, params):
    x, y, names = load_windows(split="train", **SPEC)
    model = build_model("ticnn", **params)
    fine_tune(model, x, y, epochs=6, lr=3e-3)
    path = directory / "model.pt"
    save_checkpoint(path, Checkpoint(arch={"name": "ticnn", "params": params}, members=[model],
                                     input={"channels": 1, "length": 512, "sample_rate_hz": SAMPLE_RATE_HZ},
                                     classes=names, data=SPEC))
    return path


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    return _trained_checkpoint(tmp_path_factory.mktemp("dense"), PARAMS)


@pytest.fixture(scope="module")
def wider_checkpoint_path(tmp_path_factory):
    # Wide enough that the kernels' per-call set-up does not swamp the MACs slimming removes (in
    # the 4-8-8 model above, layers slimmed to one or two channels cost as much as the MACs saved).
    params = dict(PARAMS, channels=[8, 16, 32], fc_units=32)
    return _trained_checkpoint(tmp_path_factory.mktemp("wider"), params)


def _test_accuracy(members) -> float:
    x, y, _ = load_windows(split="test", **SPEC)
    return accuracy(members, x, y)


def test_slimming_then_scalpel_writes_a_reloadable_checkpoint(checkpoint_path, tmp_path):
    out = tmp_path / "slim"
    # --channel-multiple 1: blocks of four could keep this 4-8-8 model whole
    code = main(["slim", str(checkpoint_path), "-m", "slimming", "-m", "scalpel", "--ratio", "0.3",
                 "--channel-multiple", "1", "--sparsity", "0.5", "--epochs", "0.5", "--int8", "--max-loss", "100",
                 "--out", str(out)])
    assert code == 0
    report = json.loads((out / "slim.json").read_text())
    for key in ("params_before", "params_after", "macs_before", "macs_after", "accuracy_before", "accuracy_after"):
        assert key in report
    assert report["methods"] == ["slimming", "scalpel"]
    assert abs(report["int8_accuracy_after"] - report["accuracy_after"]) < 5
    assert report["dense_macs_after"] < report["dense_macs_before"]
    assert report["macs_after"] < report["dense_macs_after"] and report["params_after"] < report["dense_params_after"]

    dense, slim = load_checkpoint(checkpoint_path), load_checkpoint(out / "model.pt")
    assert report["accuracy_before"] == pytest.approx(_test_accuracy(dense.members))
    assert report["accuracy_after"] == pytest.approx(_test_accuracy(slim.members))
    assert slim.arch["params"]["channels"] == [slim.model.conv1.out_channels, slim.model.conv2.out_channels,
                                               slim.model.conv3.out_channels]
    assert sum(slim.arch["params"]["channels"]) < sum(PARAMS["channels"])
    assert [h["method"] for h in slim.arch["slim"]["history"]] == ["slimming", "scalpel"]
    # The group sparsity survives the save: it is visible from the weights alone. The classifier
    # (the last layer) stays dense by default.
    layers = prunable_layers(slim.model, torch.zeros(1, 1, 512))
    for layer in layers:
        reached = group_sparsity_of(to_kernel_order(layer.module.weight.detach(), layer.perm), 4)
        expected = 0 if layer is layers[-1] else int(np.floor(0.5 * reached.total_groups))
        assert reached.zero_groups == expected


def test_activation_plan_is_stored_and_reapplies(checkpoint_path, tmp_path):
    out = tmp_path / "act"
    assert main(["slim", str(checkpoint_path), "-m", "activation", "--budget", "2", "--max-loss", "2",
                 "--out", str(out)]) == 0
    report = json.loads((out / "slim.json").read_text())
    slim = load_checkpoint(out / "model.pt")
    plan = slim.arch["slim"]["activation"]
    assert plan["mode"] == "threshold" and any(s["winner_rate"] < 1 for s in plan["sites"])
    assert report["params_after"] == report["params_before"] and report["macs_after"] < report["macs_before"]
    again = pruned_members(slim.members, plan, torch.zeros(1, 1, 512))
    assert report["accuracy_after"] == pytest.approx(_test_accuracy(again))


def test_sweep_keeps_only_the_points_within_the_budget(checkpoint_path, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["slim", str(checkpoint_path), "-m", "scalpel", "--sweep", "0,0.97", "--epochs", "0",
                 "--max-loss", "3", "--workers", "1", "--out", str(out)])
    assert code == 0
    sweep = json.loads((out / "sweep.json").read_text())
    assert [p["value"] for p in sweep["points"]] == [0.0, 0.97]
    gentle, harsh = sweep["points"]
    assert harsh["macs"] < gentle["macs"]
    assert gentle["within_budget"] and not harsh["within_budget"] and harsh["val_loss"] > 3
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_checkpoint(out / "points" / "scalpel-0" / "model.pt").arch["slim"]["history"][0]["method"] == "scalpel"
    # The point that broke the budget is reported, never written.
    assert not (out / "points" / "scalpel-0.97").exists()
    assert "over the budget" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["-m", "activation", "-m", "scalpel"], "activation must be the last method"),
    (["-m", "prune"], "unknown slim method 'prune'"),
    (["-m", "slimming", "--ratio", "1.5"], "slimming.ratio"),
])
def test_bad_requests_fail_with_a_clear_message(checkpoint_path, tmp_path, capsys, args, message):
    assert main(["slim", str(checkpoint_path), *args, "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert message in err and "hint:" in err
    assert not (tmp_path / "x" / "model.pt").exists()


def test_example_config_loads_and_bad_keys_are_named(repo_root, tmp_path):
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.slim.config import load_slim_config

    config = load_slim_config(repo_root / "examples" / "slim_ticnn.yaml")
    assert config.scalpel.settings().group_size == 4 and config.scalpel.skip_classifier
    assert config.slimming.settings().pass_ratio() == pytest.approx(1 - 0.4 ** 0.5)
    # Without a config every knob is searched and the budget is 0.5 validation points.
    defaults = load_slim_config(None)
    assert defaults.slimming.ratio is None and defaults.scalpel.sparsity is None and defaults.activation.budget is None
    assert defaults.max_accuracy_loss == 0.5 and defaults.scalpel.skip_classifier
    bad = tmp_path / "bad.yaml"
    bad.write_text("scalpel:\n  group: 4\nactivation:\n  mode: median\n")
    with pytest.raises(EdgeDeployError) as caught:
        load_slim_config(bad)
    assert "scalpel.group: unknown key" in caught.value.message and "activation.mode" in caught.value.message


@pytest.mark.qemu
def test_sweep_points_are_built_and_measured_on_qemu(wider_checkpoint_path, tmp_path, qemu_arm):
    out = tmp_path / "measured"
    code = main(["slim", str(wider_checkpoint_path), "-m", "slimming", "--sweep", "0.5", "--epochs", "0.3",
                 "--max-loss", "100", "--measure-on", "mps2-an386", "--out", str(out)])
    assert code == 0
    sweep = json.loads((out / "sweep.json").read_text())
    point, dense = sweep["points"][0], sweep["dense"]
    # Fewer channels run fewer instructions on the emulated Cortex-M4 (exact counts from QEMU).
    assert 0 < point["instructions"] < dense["instructions"]
    assert 0 < point["cycles"] < dense["cycles"]
    assert (out / "points" / "slimming-0.5" / "model.pt").is_file()


def test_folder_trained_model_is_not_slimmed_against_the_bundled_excerpt(tmp_path):
    # The excerpt is the start of the full records: for a model trained on a data folder at that
    # load, its validation and test windows lie inside the training windows (leaked accuracy).
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.slim.dataset import load_slim_data

    folder = tmp_path / "cwru"
    checkpoint = Checkpoint(arch={"name": "ticnn", "params": PARAMS}, members=[build_model("ticnn", **PARAMS)],
                            input={"channels": 1, "length": 512, "sample_rate_hz": SAMPLE_RATE_HZ},
                            classes=load_windows(split="val", **SPEC)[2], data=dict(SPEC, data=str(folder)))
    with pytest.raises(EdgeDeployError, match="inside the model's training windows at 0 HP") as caught:
        load_slim_data(checkpoint, "bundled")
    assert f"--data {folder}" in caught.value.hint and "--load-hp" not in caught.value.hint
    path = save_checkpoint(tmp_path / "model.pt", checkpoint)
    assert main(["slim", str(path), "-m", "slimming", "--data", "bundled", "--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
    # A model trained on the excerpt itself slims on it as before.
    assert len(load_slim_data(dataclasses.replace(checkpoint, data=dict(SPEC)), "bundled").val[0]) > 0
