"""One training job: config -> windows -> trained members -> checkpoint, metrics and plots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.data import IMAGE_NORMALIZATION, NORMALIZATION, SAMPLE_RATE_HZ, load_split
from edge_deploy.fsutil import atomic_write_json
from edge_deploy.models import build_model, count_macs, count_parameters
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint
from edge_deploy.train.config import TrainConfig
from edge_deploy.train.evaluate import evaluate_checkpoint
from edge_deploy.train.loop import train_ensemble


def data_spec(config: TrainConfig) -> dict[str, Any]:
    """Return the loader arguments the config trains on (the checkpoint's ``data``; for images
    with their ``kind``, and the size and channels the model takes when the config leaves them out)."""
    model_input = None
    if getattr(config.data, "kind", "windows") == "images":
        model_input = tuple(getattr(build_model(config.model.name, **config.model.params), "input_shape", ()))
    return config.data.spec(model_input)


def train_checkpoint(config: TrainConfig, *, progress: bool = True) -> Checkpoint:
    """Train the config's model (or ensemble) and evaluate it; return the Checkpoint.

    The checkpoint's ``metrics`` hold the test accuracy, per-class accuracy, confusion, accuracy
    per test SNR, model size and the training history. Raises EdgeDeployError on bad data.
    """
    spec = data_spec(config)
    x_train, y_train, class_names = load_split(spec, "train")
    x_val, y_val, _ = load_split(spec, "val")
    # Train only on the classes present (loads 1 and 2 HP lack the normal records).
    spec["labels"] = sorted(int(v) for v in np.unique(y_train))
    trained = train_ensemble(config, (x_train, y_train), (x_val, y_val), len(class_names), progress=progress)
    checkpoint = Checkpoint(
        arch=trained.arch,
        members=trained.members,
        input=_input_of(x_train, spec),
        normalization=dict(IMAGE_NORMALIZATION if spec.get("kind") == "images" else NORMALIZATION),
        classes=list(class_names),
        data=spec,
        config=config.model_dump(mode="json"),
    )
    metrics = evaluate_checkpoint(checkpoint, snr_db=config.evaluate.snr_db, noise_seed=config.evaluate.noise_seed)
    model = trained.members[0]
    metrics.update(
        {
            "classes": list(class_names),
            "n_train_windows": int(len(x_train)),
            "n_val_windows": int(len(x_val)),
            "train_seconds": round(trained.seconds, 2),
            "epochs_run": [len(h) for h in trained.history],
            "parameters": count_parameters(model),
            "macs": count_macs(model, tuple(x_train.shape[1:])),
            "history": trained.history,
        }
    )
    checkpoint.metrics = metrics
    return checkpoint


def _input_of(x: np.ndarray, spec: dict[str, Any]) -> dict[str, Any]:
    shape = {"shape": [int(d) for d in x.shape[1:]]}
    return shape if spec.get("kind") == "images" else {**shape, "sample_rate_hz": SAMPLE_RATE_HZ}


def write_training_outputs(checkpoint: Checkpoint, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``model.pt``, ``metrics.json``, ``training_curves.png`` and ``confusion.png`` into
    ``out_dir`` (each atomically); return their paths by name."""
    from edge_deploy.train.plots import plot_confusion, plot_training_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = checkpoint.metrics
    paths = {
        "model": save_checkpoint(out / "model.pt", checkpoint),
        "metrics": atomic_write_json(out / "metrics.json", metrics),
        "curves": plot_training_curves(metrics["history"], out / "training_curves.png"),
        "confusion": plot_confusion(metrics["confusion"], checkpoint.classes, out / "confusion.png"),
    }
    return paths
