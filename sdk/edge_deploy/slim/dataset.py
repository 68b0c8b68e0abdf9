"""The windows a slim run fine-tunes on, decides on (validation) and reports on (test).

Validation drives every decision against an accuracy budget of a fraction of a point, so it
needs many windows: they are cut from the validation time range of every record with a fine
stride (``validation.stride``, default window/64: overlapping windows, never outside that range,
so never overlapping training or test windows), and ``validation.noisy_copies`` (default 2) copies
of them with white noise at an SNR drawn per window from the fine-tuning noise range: the clean
validation range of a record is short and easy (a model at 100 % there can lose points on the
test range), while noisy copies show every loss of robustness a slimmed model suffers. Training and test windows are cut as the checkpoint was trained.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge_deploy.data import add_awgn, load_images, load_split, load_windows, normalize_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.checkpoint import Checkpoint

Windows = tuple[np.ndarray, np.ndarray]


class ValidationSection(BaseModel):
    """How the validation windows are cut: ``stride`` in samples (None = window/64),
    ``noisy_copies`` (default 2) extra copies of every window with white noise at an SNR drawn per window
    from ``snr_db`` (None = the fine-tuning noise range, else no copies), ``seed`` for the noise."""

    model_config = ConfigDict(extra="forbid")

    stride: int | None = Field(None, gt=0)
    noisy_copies: int = Field(2, ge=0)
    snr_db: tuple[float, float] | None = None
    seed: int = 0


@dataclass
class SlimData:
    """The train, validation and test windows of a run, and the ``load_windows`` arguments."""

    train: Windows
    val: Windows
    test: Windows
    spec: dict[str, Any]


def _noisy_copies(raw: np.ndarray, copies: int, snr_db: tuple[float, float] | None, seed: int,
                  windows: bool) -> np.ndarray:
    # Noise per sample over all its values; windows are z-scored afterwards, as the models expect.
    normalize = normalize_windows if windows else (lambda v: v)
    flat = raw.reshape(len(raw), -1)
    rng = np.random.default_rng(seed)
    out = [normalize(flat)]
    for _ in range(copies):
        snr = rng.uniform(snr_db[0], snr_db[1], size=raw.shape[0])
        out.append(normalize(add_awgn(flat, snr, rng)))
    return np.concatenate(out).reshape((-1, *raw.shape[1:]))


def load_slim_data(checkpoint: Checkpoint, data: str | None = None, validation: ValidationSection | None = None,
                   noise_snr_db: list[float] | None = None) -> SlimData:
    """Load the windows the checkpoint was trained on, or those of ``data`` (a folder, or
    "bundled" for the excerpt) cut the same way, with validation windows cut as ``validation``
    says (``noise_snr_db``: the fine-tuning noise range, the default for noisy copies).

    Raises EdgeDeployError on bad data, when its classes differ from the model's, when the
    checkpoint's BatchNorm statistics were adapted (AdaBN: fine-tuning would undo it), and when
    "bundled" is asked for a model trained on a data folder at the same load (the excerpt lies
    inside its training windows, so the budget and the reported accuracy would be measured on
    training samples).
    """
    from edge_deploy.train.evaluate import refuse_excerpt_inside_training

    validation = validation or ValidationSection()
    adapted = checkpoint.data.get("adapted_bn")
    if adapted:
        raise EdgeDeployError(
            f"the checkpoint's BatchNorm statistics were adapted (AdaBN) to load(s) {adapted.get('load_hp')}; "
            "slimming fine-tunes on the training load and would undo that",
            hint="slim the model before adapting it, then adapt the slimmed one: "
            "edge-deploy evaluate SLIM/model.pt --load-hp N --adapt-bn --save-adapted ADAPTED.pt",
        )
    windows = checkpoint.data.get("kind", "windows") == "windows"
    accepted = set(inspect.signature(load_windows if windows else load_images).parameters) - {"data", "split"}
    spec = {k: v for k, v in checkpoint.data.items() if k in accepted or k == "kind"}
    if windows:
        spec["window"] = int(checkpoint.input_shape[-1])
    source = checkpoint.data.get("data") if data is None else (None if data == "bundled" else data)
    refuse_excerpt_inside_training(
        checkpoint.data, source, spec.get("load_hp", (0,)),
        hint=f"slim on the training folder (--data {checkpoint.data.get('data')}, the default): its validation and "
        "test splits, on which the accuracy loss is measured, are disjoint in time from training",
    )
    splits = {}
    # Windows: validation windows cut with a fine stride, normalized after the noise; images: as trained.
    val_stride = (validation.stride or max(1, spec["window"] // 64)) if windows else None
    for split in ("train", "val", "test"):
        cut = dict(spec, stride=val_stride, normalize=False) if windows and split == "val" else spec
        x, y, names = load_split(cut, split, data=source)
        if list(names) != list(checkpoint.classes):
            raise EdgeDeployError(f"the data's classes {names} differ from the model's {checkpoint.classes}",
                                  hint="fine-tune on data with the classes the model was trained on")
        splits[split] = (x, y)
    raw, y = splits["val"]
    snr = validation.snr_db or (tuple(noise_snr_db) if noise_snr_db else None)
    copies = validation.noisy_copies if snr is not None else 0
    x = _noisy_copies(raw, copies, snr, validation.seed, windows)
    splits["val"] = (x.astype(np.float32), np.tile(y, copies + 1))
    extra = {"val_stride": val_stride} if windows else {}
    return SlimData(train=splits["train"], val=splits["val"], test=splits["test"],
                    spec={**spec, "data": source, **extra, "val_noisy_copies": copies})
