"""Data: CWRU records, users' signal folders, the bundled excerpt, windowing and noise; images
(a folder of per-class pictures, or scikit-learn's digits).

Two kinds of data, each with one loader::

    x, y, class_names = load_windows(None, "train")            # the bundled CWRU excerpt
    x, y, names = load_windows("../shared/data/cwru", "test", load_hp=(1,), snr_db=0)
    x, y, names = load_images(None, "test", size=(32, 32))     # scikit-learn's digits, upsampled

A checkpoint's ``data`` field holds exactly the keyword arguments used for training plus its
``kind`` ("windows" when absent: checkpoints written before images), so
``load_split(checkpoint.data, "train")`` gives the training samples back, whatever the kind
(other keys, such as the AdaBN record ``adapted_bn``, are not loader arguments and are left out).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_deploy.data.cwru import CLASS_NAMES, SAMPLE_RATE_HZ, is_cwru_folder, load_cwru_records
from edge_deploy.data.excerpt import load_excerpt_records
from edge_deploy.data.folder import is_signal_folder, load_folder_records
from edge_deploy.data.images import IMAGE_NORMALIZATION, load_images
from edge_deploy.data.noise import add_awgn, measured_snr_db
from edge_deploy.data.records import Record, resample_signal
from edge_deploy.data.windows import (
    DEFAULT_FRACTIONS,
    NORMALIZATION,
    SPLITS,
    cut_windows,
    normalize_windows,
    split_bounds,
    window_starts,
)
from edge_deploy.errors import EdgeDeployError

__all__ = [
    "CLASS_NAMES",
    "DATA_KINDS",
    "DEFAULT_FRACTIONS",
    "IMAGE_NORMALIZATION",
    "NORMALIZATION",
    "SAMPLE_RATE_HZ",
    "SPLITS",
    "Record",
    "add_awgn",
    "cut_windows",
    "load_images",
    "load_records",
    "load_split",
    "load_windows",
    "measured_snr_db",
    "normalize_windows",
    "resample_signal",
    "split_bounds",
    "window_starts",
]


def _folder_signature(root: Path) -> tuple:
    # Part of the cache key, so a folder whose files change is read again.
    if not root.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()))


@functools.lru_cache(maxsize=8)
def _load_records_cached(
    key: str | None, load_hp: tuple[int, ...], _signature: tuple = ()
) -> tuple[tuple[Record, ...], tuple[str, ...]]:
    if key is None:
        records = [r for r in load_excerpt_records() if r.load_hp in load_hp]
        if not records:
            raise EdgeDeployError(
                f"the bundled excerpt only holds 0 HP, not load(s) {list(load_hp)}",
                hint="pass --data with the full CWRU folder for other loads",
            )
        return tuple(records), CLASS_NAMES
    root = Path(key)
    if not root.exists():
        raise EdgeDeployError(f"data folder {root} does not exist", hint="pass --data with an existing folder")
    if is_signal_folder(root):
        records, names = load_folder_records(root)
        return tuple(records), tuple(names)
    if is_cwru_folder(root):
        return tuple(load_cwru_records(root, load_hp)), CLASS_NAMES
    raise EdgeDeployError(
        f"{root}: neither a CWRU folder (.mat files) nor a folder of per-class .npy/.csv files",
        hint="point --data at the CWRU records or at DIR/<class>/<record>.npy",
    )


def load_records(data: str | Path | None, load_hp: Sequence[int] = (0,)) -> tuple[list[Record], list[str]]:
    """Return (records, class names) from ``data``: None = the bundled excerpt, a CWRU folder,
    or a folder of per-class signal files (where ``load_hp`` does not apply).

    Raises EdgeDeployError if the data is missing, unreadable or unlabeled.
    """
    key = None if data is None else str(Path(data).expanduser().resolve())
    signature = () if key is None else _folder_signature(Path(key))
    records, names = _load_records_cached(key, tuple(sorted(int(h) for h in load_hp)), signature)
    return list(records), list(names)


def load_windows(
    data: str | Path | None,
    split: str,
    *,
    load_hp: Sequence[int] = (0,),
    window: int = 2048,
    stride: int | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    snr_db: float | None = None,
    seed: int = 0,
    normalize: bool = True,
    labels: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cut the windows of one split; return ``(x float32 (N, 1, window), y int64 (N,), class_names)``.

    Takes the data (None = bundled excerpt, or a folder), the split (train, val, test or all),
    the motor loads, the window length and stride (default ``window // 8``, overlapping), the
    train/validation fractions of every record, an optional SNR in dB for additive white noise
    (applied to the raw windows, seeded by ``seed``), whether to z-score each window (what the
    models expect), and optionally the labels (class indices) to keep. Windows of different splits come from
    disjoint time ranges of each record. Raises EdgeDeployError on bad data or when the split
    holds no window.
    """
    stride = window // 8 if stride is None else int(stride)
    records, names = load_records(data, load_hp)
    fractions = (float(fractions[0]), float(fractions[1]))
    xs, ys = [], []
    for record in records:
        if labels is not None and record.label not in labels:
            continue
        start, stop = split_bounds(len(record.signal), split, fractions)
        windows = cut_windows(record.signal, window_starts(start, stop, window, stride), window)
        xs.append(windows)
        ys.append(np.full(len(windows), record.label, dtype=np.int64))
    x = np.concatenate(xs) if xs else np.zeros((0, window), dtype=np.float32)
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=np.int64)
    if len(x) == 0:
        where = "the bundled excerpt" if data is None else str(data)
        raise EdgeDeployError(
            f"{where}: the {split!r} split holds no window of {window} samples",
            hint="use a shorter window, a smaller stride or longer records",
        )
    if snr_db is not None:
        x = add_awgn(x, float(snr_db), np.random.default_rng(seed))
    if normalize:
        x = normalize_windows(x)
    return x[:, None, :].astype(np.float32), y, names


# data kind -> its loader; a checkpoint's ``data["kind"]`` names one ("windows" when absent).
DATA_KINDS = {"windows": load_windows, "images": load_images}


def load_split(spec: dict, split: str, **overrides) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load ``split`` of the data a checkpoint's ``data`` dict ``spec`` describes; return
    ``(x float32 (N, *input shape), y int64 (N,), class_names)``.

    ``spec["kind"]`` picks the loader of :data:`DATA_KINDS` (``windows`` when absent); the keys of
    ``spec`` and ``overrides`` (which win: another ``data`` source, ``snr_db``, ``seed``,
    ``stride``, ``normalize``, ...) that the loader takes are passed on, the others are left out.
    An override the loader does not take is refused unless it is None. Raises EdgeDeployError for
    an unknown kind or override, and whatever the loader raises.
    """
    import inspect

    kind = overrides.pop("kind", None) or spec.get("kind") or "windows"
    loader = DATA_KINDS.get(kind)
    if loader is None:
        raise EdgeDeployError(f"unknown data kind {kind!r}", hint=f"use one of: {', '.join(DATA_KINDS)}")
    accepted = set(inspect.signature(loader).parameters) - {"split"}
    unknown = sorted(k for k, v in overrides.items() if k not in accepted and v is not None)
    if unknown:
        raise EdgeDeployError(f"{', '.join(unknown)} do(es) not apply to {kind} data",
                              hint=f"{kind} data takes: {', '.join(sorted(accepted))}")
    args = {k: v for k, v in {**spec, **overrides}.items() if k in accepted}
    return loader(args.pop("data", None), split, **args)
