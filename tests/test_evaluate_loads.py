"""Evaluation across motor loads on the real records: split choice and shared classes only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge_deploy.train.config import parse_train_config
from edge_deploy.train.evaluate import evaluate_checkpoint
from edge_deploy.train.run import train_checkpoint

torch.set_num_threads(1)


def test_train_at_1hp_test_at_0hp_scores_the_shared_classes(cwru_dir: Path) -> None:
    config = parse_train_config(
        {
            "data": {"path": str(cwru_dir), "load_hp": [1], "stride": 1024},
            "model": {"params": {"channels": [4, 8, 8, 8, 8], "fc_units": 16}},
            "tricks": {"input_dropout": None, "batch_size": 32},
            "training": {"epochs": 1, "patience": None},
            "evaluate": {"snr_db": []},
        }
    )
    checkpoint = train_checkpoint(config, progress=False)
    assert checkpoint.data["labels"] == list(range(1, 10))  # no normal record at 1 HP
    same_load = checkpoint.metrics
    assert same_load["split"] == "test" and same_load["load_hp"] == [1]

    other_load = evaluate_checkpoint(checkpoint, load_hp=[0], snr_db=[2])
    assert other_load["split"] == "all" and other_load["per_class"]["normal"] is None
    confusion = np.array(other_load["confusion"])
    assert confusion[0].sum() == 0 and confusion.sum() == other_load["n_windows"]
    # Whole 0 HP fault records at stride 1024: about 118 windows per class, 9 classes.
    assert 9 * 100 < other_load["n_windows"] < 9 * 130
    assert set(other_load["per_snr"]) == {"2"}
