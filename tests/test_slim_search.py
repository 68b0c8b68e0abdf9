"""The accuracy budget and the search: an unmeetable budget writes nothing, the search keeps the
largest saving within the budget, and a sweep gives the same curve serially, on 2 worker
processes and on a local Ray instance."""

from __future__ import annotations

import json

import pytest
import torch

from edge_deploy.cli import main
from edge_deploy.data import SAMPLE_RATE_HZ, load_windows
from edge_deploy.models import build_model
from edge_deploy.slim.config import parse_slim_config
from edge_deploy.slim.dataset import ValidationSection, load_slim_data
from edge_deploy.slim.finetune import accuracy, fine_tune
from edge_deploy.slim.pipeline import run_slim
from edge_deploy.slim.registry import get_method
from edge_deploy.slim.runners import ProcessRunner, RayRunner, SerialRunner
from edge_deploy.slim.scalpel import ScalpelSettings, scalpel_prune
from edge_deploy.slim.sweep import run_sweep
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint

torch.set_num_threads(1)
SPEC = {"data": None, "load_hp": [0], "window": 512, "stride": 128, "fractions": [0.7, 0.1]}
PARAMS = dict(input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1], paddings=[6, 1, 1],
              fc_units=16, input_dropout=None)
VALIDATION = {"stride": 64}  # 1,350 windows: enough here, and quick


@pytest.fixture(scope="module")
def checkpoint():
    x, y, names = load_windows(split="train", **SPEC)
    model = build_model("ticnn", **PARAMS)
    fine_tune(model, x, y, epochs=6, lr=3e-3)
    return Checkpoint(arch={"name": "ticnn", "params": PARAMS}, members=[model],
                      input={"channels": 1, "length": 512, "sample_rate_hz": SAMPLE_RATE_HZ}, classes=names, data=SPEC)


@pytest.fixture(scope="module")
def data(checkpoint):
    return load_slim_data(checkpoint, validation=ValidationSection(**VALIDATION))


def test_a_budget_that_cannot_be_met_exits_1_and_writes_nothing(checkpoint, tmp_path, capsys):
    path = save_checkpoint(tmp_path / "model.pt", checkpoint)
    out = tmp_path / "out"
    config = tmp_path / "slim.yaml"
    config.write_text(json.dumps({"validation": VALIDATION}))
    # No retraining: every grid sparsity loses accuracy, and a budget of 0 points admits none.
    code = main(["slim", str(path), "-m", "scalpel", "--epochs", "0", "--max-loss", "0", "--workers", "1",
                 "--config", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "no scalpel sparsity keeps the validation accuracy within 0.0 points" in err and "Traceback" not in err
    # The figures of every point tried are in the message.
    for value in get_method("scalpel").grid:
        assert f"scalpel sparsity={value:g}: validation" in err
    assert not out.exists()


def test_the_search_keeps_the_largest_saving_within_the_budget(checkpoint, data):
    grid = get_method("scalpel").grid
    base = accuracy(checkpoint.members, *data.val)
    # Each grid point by hand, without retraining (so deterministic): its validation loss.
    losses = {}
    for sparsity in grid:
        pruned = scalpel_prune(checkpoint.members, data.train, data.val,
                               ScalpelSettings(sparsity=sparsity, retrain_epochs=0))
        losses[sparsity] = base - accuracy(pruned.members, *data.val)
    budget = (min(losses.values()) + max(losses.values())) / 2  # some points fit, some do not
    fitting = [s for s in grid if losses[s] <= budget]
    assert fitting and len(fitting) < len(grid)
    config = parse_slim_config({"scalpel": {"retrain_epochs": 0}, "max_accuracy_loss": budget})
    slimmed, report = run_slim(checkpoint, ["scalpel"], config, data)
    search = report["search"]["scalpel"]
    # More zero groups = fewer MACs: the largest sparsity within the budget is the largest saving.
    assert search["chosen"] == max(fitting)
    assert [p["within_budget"] for p in search["points"]] == [s in fitting for s in grid]
    assert report["val_accuracy_before"] - report["val_accuracy_after"] <= budget
    assert report["macs_after"] == min(p["macs"] for p in search["points"] if p["within_budget"])
    assert report["val_accuracy_ci_after"][0] <= report["val_accuracy_after"] <= report["val_accuracy_ci_after"][1]
    assert slimmed.arch["slim"]["history"][-1]["settings"]["sparsity"] == max(fitting)


def _sweep(checkpoint, data, out, runner):
    config = parse_slim_config({"slimming": {"sparsity_epochs": 0.3, "finetune_epochs": 0.3, "passes": 1,
                                             "channel_multiple": 1},
                                "max_accuracy_loss": 100, "validation": VALIDATION})
    # 1.5 is not a ratio: that point fails, and is reported in its place.
    return run_sweep(checkpoint, "slimming", [0.3, 1.5, 0.6], config, data, out, runner=runner)


def test_a_sweep_gives_the_same_curve_serially_on_2_workers_and_on_ray(checkpoint, data, tmp_path):
    serial = _sweep(checkpoint, data, tmp_path / "serial", SerialRunner())
    assert [p["value"] for p in serial["points"]] == [0.3, 1.5, 0.6]
    assert serial["failed"] == [1.5] and "ratio" in serial["points"][1]["error"]
    assert serial["points"][2]["dense_macs"] < serial["points"][0]["dense_macs"]
    processes = _sweep(checkpoint, data, tmp_path / "processes", ProcessRunner(2))
    assert processes == serial
    assert (tmp_path / "processes" / "points" / "slimming-0.6" / "model.pt").is_file()

    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'edge-deploy[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        on_ray = _sweep(checkpoint, data, tmp_path / "ray", RayRunner(None))
    finally:
        ray.shutdown()
    assert on_ray == serial


def test_validation_windows_are_fine_grained_and_can_carry_noisy_copies(checkpoint):
    coarse = load_windows(split="val", **SPEC)[0]
    fine = load_slim_data(checkpoint)  # default stride: window / 64
    assert fine.spec["val_stride"] == 8 and len(fine.val[0]) > 10 * len(coarse)
    noisy = load_slim_data(checkpoint, validation=ValidationSection(stride=64, noisy_copies=2, snr_db=(0, 0)))
    n = len(noisy.val[1]) // 3
    clean, copy_1, copy_2 = noisy.val[0][:n], noisy.val[0][n:2 * n], noisy.val[0][2 * n:]
    assert (noisy.val[1][:n] == noisy.val[1][n:2 * n]).all()
    assert abs(float((clean ** 2).mean()) - 1) < 1e-3 and abs(float((copy_1 ** 2).mean()) - 1) < 1e-3
    # 0 dB: the noise has the window's own power, so a z-scored noisy copy correlates ~0.71 with it.
    correlation = float((clean * copy_1).mean())
    assert 0.6 < correlation < 0.8 and not (copy_1 == copy_2).all()
