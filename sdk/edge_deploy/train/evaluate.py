"""Evaluation: accuracy, per-class accuracy and confusion, under test noise and across loads.

An ensemble predicts by majority vote of its members' classes; ties go to the class with the
highest mean softmax probability among the tied ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.checkpoint import Checkpoint
from edge_deploy.train.loop import logits_of

DEFAULT_SNRS_DB = (-4, -2, 0, 2, 4, 6, 8, 10)
TRAINING_DATA: Any = object()  # default of evaluate_checkpoint(data=...): the checkpoint's own data


def predict_labels(members: Sequence[nn.Module], x: np.ndarray) -> np.ndarray:
    """Return the predicted class of every window in ``x`` (int64), by majority vote of ``members``."""
    logits = torch.stack([logits_of(m, x) for m in members])  # (members, N, classes)
    if len(members) == 1:
        return logits[0].argmax(1).numpy().astype(np.int64)
    n_classes = logits.shape[-1]
    votes = torch.nn.functional.one_hot(logits.argmax(-1), n_classes).sum(0).double()  # (N, classes)
    mean_prob = logits.softmax(-1).mean(0).double()
    # Votes dominate; the mean probability (< 1) only breaks ties.
    return (votes + mean_prob * (votes == votes.max(1, keepdim=True).values)).argmax(1).numpy().astype(np.int64)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Return accuracy, per-class accuracy (None for a class with no window), the confusion
    matrix (rows = true class, columns = predicted) and the window count."""
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for label, name in enumerate(class_names):
        total = int(confusion[label].sum())
        per_class[name] = float(confusion[label, label] / total) if total else None
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "n_windows": int(len(y_true)),
    }


def _refuse_excerpt_inside_training(trained: dict[str, Any], source: str | None, loads: Sequence[int]) -> None:
    """Raise EdgeDeployError if the evaluation would score windows the model was trained on.

    The bundled excerpt is the first seconds of the full CWRU records, so for a model trained on
    a data folder every window of the excerpt (at a load trained on) lies inside the training
    time range of its records, whatever the split.
    """
    trained_source = trained.get("data")
    shared = sorted(set(loads) & set(trained.get("load_hp", (0,))))
    if source is not None or trained_source is None or not shared:
        return
    from edge_deploy.data.excerpt import EXCERPT_SECONDS

    raise EdgeDeployError(
        f"the model was trained on {trained_source}; the bundled excerpt is the first {EXCERPT_SECONDS:g} s of "
        f"those records, inside the model's training windows at {', '.join(str(h) for h in shared)} HP, "
        "so its accuracy there would be leaked, not measured",
        hint=f"evaluate on the training folder (--data {trained_source}, the default): its test split is disjoint "
        "in time from training; or at a load the model was not trained on (--load-hp)",
    )


def evaluate_checkpoint(
    checkpoint: Checkpoint,
    *,
    data: str | Path | None = TRAINING_DATA,
    load_hp: Sequence[int] | None = None,
    split: str | None = None,
    snr_db: Sequence[float] = DEFAULT_SNRS_DB,
    noise_seed: int = 0,
) -> dict[str, Any]:
    """Evaluate a checkpoint (single model or ensemble); return a metrics dict.

    Takes the checkpoint, the data (default: where it was trained; None = bundled excerpt), the
    loads (default: the training loads), the split (default ``test`` for a load the model was
    trained on, ``all`` for another load, whose records were never seen),
    the test SNRs in dB and the noise seed. Only classes the model was trained on are scored.
    Returns ``accuracy``, ``per_class``, ``confusion`` (clean), ``per_snr`` (accuracy per SNR),
    and for an ensemble ``members`` (each member's clean accuracy and ``per_snr``). Raises
    EdgeDeployError when the data holds no window of a trained class, and when a model trained on
    a data folder would be scored on the bundled excerpt at a load it was trained on (the excerpt
    is the start of the full records, inside the training windows).
    """
    trained = checkpoint.data
    source = trained.get("data") if data is TRAINING_DATA else (None if data is None else str(data))
    loads = tuple(trained.get("load_hp", (0,)) if load_hp is None else load_hp)
    _refuse_excerpt_inside_training(trained, source, loads)
    if split is None:
        # Any load trained on may share samples with the training windows (the bundled excerpt is
        # the start of the full records), so only another load's records are used whole.
        split = "test" if set(loads) & set(trained.get("load_hp", (0,))) else "all"
    labels = trained.get("labels")
    window = int(checkpoint.input["length"])
    kwargs = {
        "load_hp": loads,
        "window": window,
        "stride": trained.get("stride"),
        "fractions": trained.get("fractions", (0.7, 0.1)),
        "labels": labels,
    }
    x, y, names = load_windows(source, split, **kwargs)
    if list(names) != list(checkpoint.classes):
        raise EdgeDeployError(
            f"the data's classes {names} differ from the model's {checkpoint.classes}",
            hint="evaluate on data with the classes the model was trained on",
        )
    members = checkpoint.members
    result = classification_metrics(y, predict_labels(members, x), names)
    result.update({"split": split, "load_hp": list(loads), "data": source or "bundled excerpt", "per_snr": {}})
    member_results = [{"accuracy": classification_metrics(y, predict_labels([m], x), names)["accuracy"], "per_snr": {}} for m in members]
    for snr in snr_db:
        x_noisy, y_noisy, _ = load_windows(source, split, snr_db=float(snr), seed=noise_seed, **kwargs)
        key = f"{float(snr):g}"
        result["per_snr"][key] = float(np.mean(predict_labels(members, x_noisy) == y_noisy))
        if len(members) > 1:
            for member, entry in zip(members, member_results):
                entry["per_snr"][key] = float(np.mean(predict_labels([member], x_noisy) == y_noisy))
    if len(members) > 1:
        result["members"] = member_results
    return result
