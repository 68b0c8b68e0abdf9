"""Windowing: fixed-length windows cut from disjoint time ranges of each record, and normalization.

Each record is split by time: the first ``train`` fraction feeds training, the next ``val``
fraction validation, the rest testing. Windows are cut wholly inside one range, so overlapping
windows (the data augmentation) never leak test samples into training.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.errors import EdgeDeployError

SPLITS = ("train", "val", "test", "all")
DEFAULT_FRACTIONS = (0.7, 0.1)  # train, val; test gets the rest
NORMALIZATION = {"kind": "zscore-per-window"}


def split_bounds(n_samples: int, split: str, fractions: tuple[float, float] = DEFAULT_FRACTIONS) -> tuple[int, int]:
    """Return the sample range ``[start, stop)`` of ``split`` in a record of ``n_samples``.

    ``fractions`` are the train and validation shares; the test split is what remains.
    Raises EdgeDeployError for an unknown split or fractions that do not fit in one record.
    """
    if split not in SPLITS:
        raise EdgeDeployError(f"unknown split {split!r}", hint=f"use one of {', '.join(SPLITS)}")
    train, val = fractions
    if train <= 0 or val < 0 or train + val >= 1:
        raise EdgeDeployError(
            f"split fractions train={train}, val={val} leave no test data",
            hint="use positive fractions with train + val < 1 (for example 0.7 and 0.1)",
        )
    cut_train = int(round(n_samples * train))
    cut_val = int(round(n_samples * (train + val)))
    return {
        "train": (0, cut_train),
        "val": (cut_train, cut_val),
        "test": (cut_val, n_samples),
        "all": (0, n_samples),
    }[split]


def window_starts(start: int, stop: int, window: int, stride: int) -> np.ndarray:
    """Return the first sample of every window of length ``window`` inside ``[start, stop)``."""
    if window <= 0 or stride <= 0:
        raise EdgeDeployError(f"window ({window}) and stride ({stride}) must be positive", hint="fix the data settings")
    if stop - start < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(start, stop - window + 1, stride, dtype=np.int64)


def cut_windows(signal: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Return the windows of ``signal`` beginning at ``starts``, shaped ``(len(starts), window)``."""
    if len(starts) == 0:
        return np.zeros((0, window), dtype=np.float32)
    index = starts[:, None] + np.arange(window)[None, :]
    return signal[index].astype(np.float32)


def normalize_windows(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Z-score every window on its own (last axis): zero mean and unit variance.

    Takes float windows ``(..., length)``; returns float32 of the same shape. A window that is
    constant stays at zero instead of dividing by zero.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, eps)).astype(np.float32)
