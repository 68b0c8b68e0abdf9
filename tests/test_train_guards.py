"""Training guards: early stopping stops, and evaluation refuses to score a model on its own training samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge_deploy.data.cwru import CLASS_NAMES
from edge_deploy.data.excerpt import load_excerpt_records
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.config import parse_train_config
from edge_deploy.train.evaluate import evaluate_checkpoint
from edge_deploy.train.run import train_checkpoint

torch.set_num_threads(1)

TINY_MODEL = {"params": {"channels": [4, 8, 8, 8, 8], "fc_units": 16}}


def test_early_stopping_stops_and_keeps_the_best_epoch() -> None:
    # A large constant learning rate on a tiny model: the validation loss soon stops improving.
    config = parse_train_config(
        {
            "model": TINY_MODEL,
            "tricks": {"input_dropout": None, "batch_size": 32},
            "training": {"epochs": 40, "lr": 0.05, "lr_schedule": "constant", "patience": 1, "early_stopping": "val_loss", "threads": 1},
            "evaluate": {"snr_db": []},
        }
    )
    checkpoint = train_checkpoint(config, progress=False)
    history = checkpoint.metrics["history"][0]
    assert checkpoint.metrics["epochs_run"] == [len(history)]
    assert 2 <= len(history) < 40
    losses = [entry["val_loss"] for entry in history]
    # Patience 1: stopped at the first epoch that did not improve on the best so far.
    assert losses[-1] >= min(losses[:-1])
    assert all(later < earlier for earlier, later in zip(losses[:-2], losses[1:-1]))


def _excerpt_as_signal_folder(root: Path) -> Path:
    """Write the bundled excerpt's records as a per-class .npy folder (the excerpt lies inside it, as in the full data)."""
    for record in load_excerpt_records():
        folder = root / CLASS_NAMES[record.label]
        folder.mkdir(parents=True)
        np.save(folder / "record.npy", record.signal)
    return root


def test_folder_model_is_not_scored_on_the_bundled_excerpt(tmp_path: Path) -> None:
    data = _excerpt_as_signal_folder(tmp_path / "signals")
    config = parse_train_config(
        {
            "data": {"path": str(data), "stride": 1024},
            "model": TINY_MODEL,
            "tricks": {"input_dropout": None, "batch_size": 32},
            "training": {"epochs": 1, "patience": None, "threads": 1},
            "evaluate": {"snr_db": []},
        }
    )
    checkpoint = train_checkpoint(config, progress=False)
    with pytest.raises(EdgeDeployError, match="inside the model's training windows at 0 HP") as caught:
        evaluate_checkpoint(checkpoint, data=None, snr_db=())
    assert str(data) in caught.value.hint and "--load-hp" in caught.value.hint
    with pytest.raises(EdgeDeployError, match="training windows"):
        evaluate_checkpoint(checkpoint, data=None, split="test", snr_db=())
    # Its own folder (disjoint test split) still evaluates.
    metrics = evaluate_checkpoint(checkpoint, snr_db=())
    assert metrics["split"] == "test" and metrics["n_windows"] > 0
