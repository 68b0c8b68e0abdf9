"""Evaluation: accuracy, per-class accuracy and confusion, under test noise and across loads.

An ensemble predicts by majority vote of its members' classes; ties go to the class with the
highest mean softmax probability among the tied ones. ``adapt_batchnorm`` is AdaBN (Li et al.
2016): the BatchNorm statistics re-estimated on unlabeled windows of another load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import copy

import numpy as np
import torch
from torch import nn

from edge_deploy.data import load_split, load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.checkpoint import Checkpoint
from edge_deploy.train.loop import logits_of, recalibrate_batchnorm

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


def seen_loads(trained: dict[str, Any]) -> dict[int, str | None]:
    """Return the loads whose training-split windows the model has seen, each with its data source
    (None = bundled excerpt): the loads it was trained on, and the load its BatchNorm statistics
    were adapted to (``adapt_batchnorm``), from a checkpoint's ``data`` dict."""
    seen: dict[int, str | None] = {int(h): trained.get("data") for h in trained.get("load_hp", (0,))}
    adapted = trained.get("adapted_bn") or {}
    for load in adapted.get("load_hp", ()):
        seen.setdefault(int(load), adapted.get("data"))
    return seen


def refuse_excerpt_inside_training(trained: dict[str, Any], source: str | None, loads: Sequence[int],
                                   hint: str | None = None) -> None:
    """Raise EdgeDeployError if scoring the model on ``source`` at ``loads`` would score windows it
    was trained on (or whose BatchNorm statistics it was adapted on).

    ``trained`` is a checkpoint's ``data`` dict, ``source`` the data to score on (None = bundled
    excerpt), ``hint`` replaces the default advice (written for ``edge-deploy evaluate``). The
    bundled excerpt is the first seconds of the full CWRU records, so for a model trained on a
    data folder every window of the excerpt (at a load trained on) lies inside the training time
    range of its records, whatever the split.
    """
    if source is not None or trained.get("kind", "windows") != "windows":
        return  # the excerpt is vibration data; image data has no such overlap
    folders = {load: where for load, where in seen_loads(trained).items() if where is not None}
    shared = sorted(set(loads) & set(folders))
    if not shared:
        return
    from edge_deploy.data.excerpt import EXCERPT_SECONDS

    trained_source = folders[shared[0]]
    raise EdgeDeployError(
        f"the model was trained on {trained_source}; the bundled excerpt is the first {EXCERPT_SECONDS:g} s of "
        f"those records, inside the model's training windows at {', '.join(str(h) for h in shared)} HP, "
        "so its accuracy there would be leaked, not measured",
        hint=hint or f"evaluate on the training folder (--data {trained_source}, the default): its test split is disjoint "
        "in time from training; or at a load the model was not trained on (--load-hp)",
    )


def _source(checkpoint: Checkpoint, data: Any) -> str | None:
    return checkpoint.data.get("data") if data is TRAINING_DATA else (None if data is None else str(data))


def adaptation_windows(checkpoint: Checkpoint, *, data: str | Path | None = TRAINING_DATA,
                       load_hp: Sequence[int]) -> np.ndarray:
    """Return the windows AdaBN adapts on: the ``train`` split of ``load_hp`` in ``data`` (default:
    where the model was trained; None = bundled excerpt), cut as the model was trained, of every
    class the data holds. Labels are not used; the test split is never read."""
    trained = checkpoint.data
    _refuse_loads_for_images(checkpoint)
    x, _, _ = load_windows(
        _source(checkpoint, data), "train",
        load_hp=tuple(int(h) for h in load_hp),
        window=int(checkpoint.input_shape[-1]),
        stride=trained.get("stride"),
        fractions=trained.get("fractions", (0.7, 0.1)),
    )
    return x


def adapt_batchnorm(checkpoint: Checkpoint, *, data: str | Path | None = TRAINING_DATA,
                    load_hp: Sequence[int], windows: np.ndarray | None = None) -> Checkpoint:
    """AdaBN: return a copy of ``checkpoint`` whose every member's BatchNorm running mean and
    variance are re-estimated on unlabeled windows of the target domain; all learned weights stay.

    The windows are ``adaptation_windows(checkpoint, data=data, load_hp=load_hp)`` (the target
    loads' training split) unless given. The statistics are those of ``recalibrate_batchnorm``
    (the training loop's clean-window re-estimation). The copy's ``data["adapted_bn"]`` records
    the source, loads, split and window count; ``evaluate_checkpoint`` then uses the test split at
    those loads and the excerpt guard covers them. The input checkpoint is left unchanged.
    """
    loads = sorted({int(h) for h in load_hp})
    if not loads:
        raise EdgeDeployError("adapting BatchNorm needs a target load", hint="pass --load-hp N with --adapt-bn")
    if windows is None:
        windows = adaptation_windows(checkpoint, data=data, load_hp=loads)
    x = torch.as_tensor(windows)
    members = []
    for member in checkpoint.members:
        adapted = copy.deepcopy(member)
        recalibrate_batchnorm(adapted, x, max_windows=max(1, len(x)))
        members.append(adapted)
    data_spec = copy.deepcopy(checkpoint.data)
    data_spec["adapted_bn"] = {"data": _source(checkpoint, data), "load_hp": loads, "split": "train", "n_windows": int(len(x))}
    result = copy.copy(checkpoint)
    result.members, result.data = members, data_spec
    return result


def _refuse_loads_for_images(checkpoint: Checkpoint) -> None:
    kind = checkpoint.data.get("kind", "windows")
    if kind != "windows":
        raise EdgeDeployError(f"motor loads and AdaBN apply to vibration windows; this model was trained on {kind}",
                              hint="leave --load-hp and --adapt-bn out")


def _default_loads(checkpoint: Checkpoint, load_hp: Sequence[int] | None) -> tuple[int, ...]:
    if load_hp is None:
        adapted = checkpoint.data.get("adapted_bn") or {}
        load_hp = adapted.get("load_hp") or checkpoint.data.get("load_hp", (0,))
    return tuple(int(h) for h in load_hp)


def adapt_for_evaluation(checkpoint: Checkpoint, *, data: str | Path | None = TRAINING_DATA,
                         load_hp: Sequence[int] | None = None, split: str | None = None) -> Checkpoint:
    """Return ``checkpoint`` adapted by ``adapt_batchnorm`` to ``load_hp`` (default: as
    ``evaluate_checkpoint``) on ``data``, ready to be scored on ``split`` of the same data.

    Raises EdgeDeployError when ``split`` is ``train`` or ``all`` (they hold the adaptation
    windows) and when the bundled excerpt is asked for a model trained on a data folder at those
    loads (``refuse_excerpt_inside_training``).
    """
    if split in ("train", "all"):
        raise EdgeDeployError(
            f"--adapt-bn estimates the BatchNorm statistics on the training split's windows, which the "
            f"{split!r} split holds, so its accuracy would be measured on the adaptation data",
            hint="leave --split out (test) or use --split val",
        )
    loads = _default_loads(checkpoint, load_hp)
    source = _source(checkpoint, data)
    refuse_excerpt_inside_training(checkpoint.data, source, loads)
    return adapt_batchnorm(checkpoint, data=source, load_hp=loads)


def evaluate_checkpoint(
    checkpoint: Checkpoint,
    *,
    data: str | Path | None = TRAINING_DATA,
    load_hp: Sequence[int] | None = None,
    split: str | None = None,
    snr_db: Sequence[float] = DEFAULT_SNRS_DB,
    noise_seed: int = 0,
    adapt_bn: bool = False,
) -> dict[str, Any]:
    """Evaluate a checkpoint (single model or ensemble); return a metrics dict.

    Takes the checkpoint, the data (default: where it was trained; None = bundled excerpt), the
    loads (default: the training loads, or for a checkpoint adapted by ``adapt_batchnorm`` the
    loads it was adapted to), the split (default ``test`` for a load the model was trained or
    adapted on, ``all`` for another load, whose records were never seen), the test SNRs in dB, the
    noise seed, and ``adapt_bn``: first adapt the BatchNorm statistics to the loads on the data's
    unlabeled training split (AdaBN, ``adapt_batchnorm``), then score the test split.
    Only classes the model was trained on are scored.
    Returns ``accuracy``, ``per_class``, ``confusion`` (clean), ``per_snr`` (accuracy per SNR),
    ``adapted_bn`` (the adaptation record, None if not adapted), and for an ensemble ``members``
    (each member's clean accuracy and ``per_snr``). Raises EdgeDeployError when the data holds no
    window of a trained class, when ``adapt_bn`` is asked with the train or all split (they hold
    the adaptation windows), and when a model trained on a data folder would be scored on the
    bundled excerpt at a load it was trained or adapted on (the excerpt is the start of the full
    records, inside the training windows).
    """
    source = _source(checkpoint, data)
    if load_hp is not None or adapt_bn:
        _refuse_loads_for_images(checkpoint)
    if adapt_bn:
        checkpoint = adapt_for_evaluation(checkpoint, data=data, load_hp=load_hp, split=split)
    loads = _default_loads(checkpoint, load_hp)
    trained = checkpoint.data
    refuse_excerpt_inside_training(trained, source, loads)
    if split is None:
        # Any load trained (or adapted) on may share samples with those windows (the bundled
        # excerpt is the start of the full records), so only another load's records are used whole.
        split = "test" if set(loads) & set(seen_loads(trained)) else "all"
    spec = dict(trained, data=source)
    if spec.get("kind", "windows") == "windows":
        spec.update(load_hp=loads, window=int(checkpoint.input_shape[-1]))
    x, y, names = load_split(spec, split)
    if list(names) != list(checkpoint.classes):
        raise EdgeDeployError(
            f"the data's classes {names} differ from the model's {checkpoint.classes}",
            hint="evaluate on data with the classes the model was trained on",
        )
    members = checkpoint.members
    result = classification_metrics(y, predict_labels(members, x), names)
    images = spec.get("kind", "windows") == "images"
    result.update({"split": split, "kind": spec.get("kind", "windows"),
                   "load_hp": [] if images else list(loads),
                   "data": source or ("scikit-learn digits" if images else "bundled excerpt"),
                   "adapted_bn": copy.deepcopy(trained.get("adapted_bn")), "per_snr": {}})
    member_results = [{"accuracy": classification_metrics(y, predict_labels([m], x), names)["accuracy"], "per_snr": {}} for m in members]
    for snr in snr_db:
        x_noisy, y_noisy, _ = load_split(spec, split, snr_db=float(snr), seed=noise_seed)
        key = f"{float(snr):g}"
        result["per_snr"][key] = float(np.mean(predict_labels(members, x_noisy) == y_noisy))
        if len(members) > 1:
            for member, entry in zip(members, member_results):
                entry["per_snr"][key] = float(np.mean(predict_labels([member], x_noisy) == y_noisy))
    if len(members) > 1:
        result["members"] = member_results
    return result
