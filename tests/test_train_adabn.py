"""AdaBN: BatchNorm statistics re-estimated on a target load's unlabeled training windows."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edge_deploy.cli import main as cli_main
from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint
from edge_deploy.train.config import parse_train_config
from edge_deploy.train.evaluate import adapt_batchnorm, adaptation_windows, evaluate_checkpoint
from edge_deploy.train.loop import recalibrate_batchnorm
from edge_deploy.train.run import train_checkpoint

torch.set_num_threads(1)

STATS = ("running_mean", "running_var", "num_batches_tracked")


def _tiny_config(**data):
    return parse_train_config(
        {
            "data": {"stride": 512, **data},
            "model": {"params": {"channels": [4, 8, 8, 8, 8], "fc_units": 16}},
            "tricks": {"input_dropout": None, "batch_size": 16},
            "training": {"epochs": 3, "lr": 3e-3, "patience": None, "threads": 1},
            "evaluate": {"snr_db": []},
        }
    )


@pytest.fixture(scope="module")
def excerpt_checkpoint():
    return train_checkpoint(_tiny_config(), progress=False)


def _bn_stats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def test_adaptation_changes_only_batchnorm_statistics(excerpt_checkpoint) -> None:
    before = copy.deepcopy(excerpt_checkpoint.model.state_dict())
    adapted = adapt_batchnorm(excerpt_checkpoint, data=None, load_hp=[0])
    after = adapted.model.state_dict()
    assert set(after) == set(before)
    for key, value in after.items():
        if not key.endswith(STATS):
            assert torch.equal(value, before[key]), key  # conv, BN affine and FC weights kept
    assert any(not torch.equal(v, before[k]) for k, v in _bn_stats(adapted.model).items())
    # The input checkpoint is left as it was, and the copy records what it was adapted on.
    assert all(torch.equal(v, before[k]) for k, v in excerpt_checkpoint.model.state_dict().items())
    assert "adapted_bn" not in excerpt_checkpoint.data
    train_x = load_windows(None, "train", window=2048, stride=512)[0]
    assert adapted.data["adapted_bn"] == {"data": None, "load_hp": [0], "split": "train", "n_windows": len(train_x)}


def test_adaptation_uses_the_training_split_never_the_test_windows(excerpt_checkpoint) -> None:
    windows = adaptation_windows(excerpt_checkpoint, data=None, load_hp=[0])
    train_x = load_windows(None, "train", window=2048, stride=512)[0]
    test_x = load_windows(None, "test", window=2048, stride=512)[0]
    np.testing.assert_array_equal(windows, train_x)
    # The statistics are exactly those of the training split's windows...
    adapted = adapt_batchnorm(excerpt_checkpoint, data=None, load_hp=[0])
    reference = copy.deepcopy(excerpt_checkpoint.model)
    recalibrate_batchnorm(reference, torch.as_tensor(train_x), max_windows=len(train_x))
    for key, value in _bn_stats(reference).items():
        torch.testing.assert_close(_bn_stats(adapted.model)[key], value, rtol=0, atol=0)
    # ... and not those of a set that includes the test windows.
    with_test = copy.deepcopy(excerpt_checkpoint.model)
    both = np.concatenate([train_x, test_x])
    recalibrate_batchnorm(with_test, torch.as_tensor(both), max_windows=len(both))
    assert not torch.allclose(_bn_stats(with_test)["bn1.running_mean"], _bn_stats(adapted.model)["bn1.running_mean"])


def test_adapting_to_the_training_load_keeps_accuracy(excerpt_checkpoint) -> None:
    plain = evaluate_checkpoint(excerpt_checkpoint, data=None, snr_db=())
    adapted = evaluate_checkpoint(excerpt_checkpoint, data=None, snr_db=[4], adapt_bn=True)
    assert plain["adapted_bn"] is None and adapted["adapted_bn"]["load_hp"] == [0]
    assert adapted["split"] == "test" and adapted["n_windows"] == plain["n_windows"]
    assert plain["accuracy"] > 0.5  # far above chance (0.1): a model worth adapting
    assert abs(adapted["accuracy"] - plain["accuracy"]) <= 0.05
    assert set(adapted["per_snr"]) == {"4"}
    for split in ("train", "all"):
        with pytest.raises(EdgeDeployError, match="adaptation data"):
            evaluate_checkpoint(excerpt_checkpoint, data=None, split=split, snr_db=(), adapt_bn=True)


def test_cli_adapt_bn_and_save_adapted(excerpt_checkpoint, tmp_path: Path) -> None:
    model = save_checkpoint(tmp_path / "model.pt", excerpt_checkpoint)
    saved, out = tmp_path / "adapted.pt", tmp_path / "m.json"
    assert cli_main(["evaluate", str(model), "--adapt-bn", "--load-hp", "0", "--snr", "",
                     "--save-adapted", str(saved), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["adapted_bn"]["load_hp"] == [0] and metrics["split"] == "test"
    reloaded = load_checkpoint(saved)
    assert reloaded.data["adapted_bn"] == metrics["adapted_bn"]
    expected = adapt_batchnorm(excerpt_checkpoint, data=None, load_hp=[0])
    for key, value in _bn_stats(expected.model).items():
        torch.testing.assert_close(_bn_stats(reloaded.model)[key], value, rtol=0, atol=0)
    # The saved model scores the same without adapting again (default: the load it was adapted to).
    again = evaluate_checkpoint(reloaded, data=None, snr_db=())
    assert again["accuracy"] == metrics["accuracy"] and again["adapted_bn"] == metrics["adapted_bn"]
    assert cli_main(["evaluate", str(model), "--save-adapted", str(tmp_path / "x.pt")]) == 1
    assert cli_main(["evaluate", str(model), "--adapt-bn", "--split", "all", "--snr", ""]) == 1
    assert not (tmp_path / "x.pt").exists()


def test_adapt_to_another_load_of_the_full_data(cwru_dir: Path) -> None:
    checkpoint = train_checkpoint(_tiny_config(path=str(cwru_dir), load_hp=[1], stride=1024), progress=False)
    target_train = load_windows(cwru_dir, "train", load_hp=(2,), window=2048, stride=1024)
    target_test = load_windows(cwru_dir, "test", load_hp=(2,), window=2048, stride=1024, labels=checkpoint.data["labels"])
    metrics = evaluate_checkpoint(checkpoint, load_hp=[2], snr_db=(), adapt_bn=True)
    assert metrics["split"] == "test" and metrics["n_windows"] == len(target_test[0])
    assert metrics["adapted_bn"] == {"data": str(cwru_dir), "load_hp": [2], "split": "train", "n_windows": len(target_train[0])}
    adapted = adapt_batchnorm(checkpoint, load_hp=[2])
    reference = copy.deepcopy(checkpoint.model)
    recalibrate_batchnorm(reference, torch.as_tensor(target_train[0]), max_windows=len(target_train[0]))
    for key, value in _bn_stats(reference).items():
        torch.testing.assert_close(_bn_stats(adapted.model)[key], value, rtol=0, atol=0)
    # Adapted on the folder at 2 HP: the bundled excerpt at 0 HP is still fine to score (not seen),
    # but a model adapted on the folder at 0 HP must not be scored on the excerpt (its start).
    assert evaluate_checkpoint(adapted, data=None, load_hp=[0], snr_db=())["split"] == "all"
    at_zero = adapt_batchnorm(checkpoint, load_hp=[0])
    with pytest.raises(EdgeDeployError, match="training windows at 0 HP"):
        evaluate_checkpoint(at_zero, data=None, snr_db=())
    # Quantization calibrates and scores an adapted model where it was adapted (2 HP), not at 1 HP.
    from edge_deploy.quantize.pipeline import load_split

    x_q, y_q = load_split(adapted, None, "test")
    assert len(x_q) == len(target_test[0]) and np.array_equal(y_q, target_test[1])
    x_cal, _ = load_split(adapted, None, "train")
    assert np.array_equal(x_cal, target_train[0])


def test_slimming_an_adapted_model_is_refused(excerpt_checkpoint) -> None:
    from edge_deploy.slim.pipeline import load_slim_data

    adapted = adapt_batchnorm(excerpt_checkpoint, data=None, load_hp=[0])
    with pytest.raises(EdgeDeployError, match="adapted") as info:
        load_slim_data(adapted)
    assert "--adapt-bn" in info.value.hint
    assert load_slim_data(excerpt_checkpoint).test[0].shape[0] > 0
