"""Training on the bundled excerpt: a tiny run learns, reruns reproduce, the CLI writes its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from edge_deploy.cli import main as cli_main
from edge_deploy.data import load_windows
from edge_deploy.train.checkpoint import load_checkpoint
from edge_deploy.train.config import parse_train_config
from edge_deploy.train.run import train_checkpoint

torch.set_num_threads(1)

TINY = {
    "data": {"stride": 256},
    "model": {"params": {"channels": [8, 16, 16, 16, 16], "fc_units": 32}},
    "tricks": {"input_dropout": None, "batch_size": 16},
    "training": {"epochs": 4, "lr": 3e-3, "patience": None, "threads": 1},
    "evaluate": {"snr_db": [0, 10]},
}


def _config(**sections):
    raw = json.loads(json.dumps(TINY))
    for section, values in sections.items():
        raw[section].update(values)
    return parse_train_config(raw)


@pytest.fixture(scope="module")
def tiny_checkpoint():
    return train_checkpoint(_config(), progress=False)


def test_tiny_run_learns_the_excerpt_far_above_chance(tiny_checkpoint) -> None:
    metrics = tiny_checkpoint.metrics
    assert metrics["accuracy"] > 0.7  # chance is 0.1
    assert set(metrics["per_snr"]) == {"0", "10"}
    assert metrics["per_snr"]["10"] > metrics["per_snr"]["0"] - 0.05
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == metrics["n_windows"]
    assert np.trace(confusion) / confusion.sum() == pytest.approx(metrics["accuracy"])
    history = metrics["history"][0]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_checkpoint_data_gives_the_training_windows_back(tiny_checkpoint) -> None:
    x, y, names = load_windows(split="train", **tiny_checkpoint.data)
    assert names == tiny_checkpoint.classes and x.shape == (tiny_checkpoint.metrics["n_train_windows"], 1, 2048)


def test_reruns_with_the_same_seed_reproduce() -> None:
    config = _config(training={"epochs": 1, "patience": None, "lr": 3e-3, "threads": 1}, tricks={"input_dropout": [0.1, 0.9], "batch_size": 16})
    config.evaluate.snr_db = []
    a = train_checkpoint(config, progress=False).members[0].state_dict()
    b = train_checkpoint(config, progress=False).members[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    config.training.seed = 1
    c = train_checkpoint(config, progress=False).members[0].state_dict()
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def _write_config(path: Path, **sections) -> Path:
    path.write_text(yaml.safe_dump(_config(**sections).model_dump(mode="json")))
    return path


def test_cli_train_and_evaluate(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "tiny.yaml", training={"epochs": 2, "lr": 3e-3, "patience": None, "threads": 1})
    out = tmp_path / "run"
    code = cli_main(["train", str(config), "--out", str(out), "--ensemble", "2", "--epochs", "1", "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "per_class", "confusion", "per_snr", "members"):
        assert key in metrics
    assert metrics["epochs_run"] == [1, 1] and len(metrics["members"]) == 2
    for png in ("training_curves.png", "confusion.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = load_checkpoint(out / "model.pt")
    assert len(checkpoint.members) == 2 and checkpoint.config["training"]["epochs"] == 1
    result = subprocess.run(
        [sys.executable, "-m", "edge_deploy", "evaluate", str(out / "model.pt"), "--snr", "-4,10", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(result.stdout)
    assert evaluated["accuracy"] == pytest.approx(metrics["accuracy"])
    assert set(evaluated["per_snr"]) == {"-4", "10"} and evaluated["split"] == "test"
    # Two files vote as one ensemble of all their members.
    assert cli_main(["evaluate", str(out / "model.pt"), str(out / "model.pt"), "--snr", "", "--out", str(tmp_path / "e.json")]) == 0
    merged = json.loads((tmp_path / "e.json").read_text())
    assert len(merged["members"]) == 4 and merged["accuracy"] == pytest.approx(metrics["accuracy"])


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epoks: 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "edge_deploy", "train", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1 and "training.epoks: unknown key" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()
    good = _write_config(tmp_path / "good.yaml")
    assert cli_main(["train", str(good), "--out", str(tmp_path / "o"), "--data", str(tmp_path / "missing")]) == 1
    assert cli_main(["train", str(good), "--out", str(tmp_path / "o"), "--load-hp", "zero"]) == 1
    assert cli_main(["evaluate", str(tmp_path / "nothing.pt")]) == 1


def test_batchnorm_statistics_are_re_estimated_on_clean_windows() -> None:
    from edge_deploy.models import build_model
    from edge_deploy.train.loop import recalibrate_batchnorm

    torch.manual_seed(0)
    model = build_model("ticnn", channels=[4, 8, 8, 8, 8], fc_units=16, input_dropout=[0.5, 0.9])
    x = torch.as_tensor(load_windows(None, "val")[0][:100])
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(x)  # running statistics of dropped-out inputs: variance inflated
    inflated = model.bn1.running_var.clone()
    recalibrate_batchnorm(model, x, batch_size=256)
    with torch.no_grad():
        conv1 = model.conv1(x)
    np.testing.assert_allclose(model.bn1.running_mean, conv1.mean(dim=(0, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.bn1.running_var, conv1.var(dim=(0, 2), unbiased=True), rtol=1e-4)
    assert torch.all(model.bn1.running_var < inflated) and not model.training
