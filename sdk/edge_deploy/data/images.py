"""Images: a folder of per-class pictures (``DIR/<class>/*.png``) or the bundled example,
scikit-learn's handwritten digits, resized to the model's input and split per class.

Every image is read with Pillow, converted to one channel (grayscale) or three (RGB), resized to
``(H, W)`` with bilinear interpolation and scaled to [0, 1] (``IMAGE_NORMALIZATION``). The
digits example is 1,797 8 x 8 images of 0-16 (UCI's optical digits, shipped inside scikit-learn,
so it needs no download), upsampled the same way. Each class's images are shuffled with
``split_seed`` and cut into train, validation and test by ``fractions``: the three never share an
image, and every class is in every split in proportion.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_deploy.data.noise import add_awgn
from edge_deploy.data.windows import DEFAULT_FRACTIONS, SPLITS
from edge_deploy.errors import EdgeDeployError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
IMAGE_NORMALIZATION = {"kind": "pixels-0-1"}
DIGITS_NAMES = tuple(str(d) for d in range(10))
INSTALL_HINT = 'install scikit-learn (pip install "edge-deploy[images]"), or pass --data with a folder of images'


def image_class_names(root: Path) -> list[str]:
    """The class names of an image folder: its subfolders holding image files, sorted."""
    return sorted(d.name for d in root.iterdir()
                  if d.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir()))


def _resize(image, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def _digits(size: tuple[int, int], channels: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise EdgeDeployError("the bundled image example (scikit-learn's digits) needs scikit-learn, which is not "
                              "installed", hint=INSTALL_HINT) from None
    from PIL import Image

    digits = load_digits()
    images = np.stack([_resize(Image.fromarray(img.astype(np.float32)), size) for img in digits.images])
    x = np.repeat((images / 16.0)[:, None], channels, axis=1)
    return x.astype(np.float32), digits.target.astype(np.int64), DIGITS_NAMES


def _read_image(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            depth = 65535.0 if image.mode.startswith("I;16") else 255.0
            if depth > 255:
                plane = image.convert("I").point(lambda v: v * (255.0 / 65535.0)).convert("L")
                image = plane if channels == 1 else plane.convert("RGB")
            else:
                image = image.convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise EdgeDeployError(f"{path}: cannot read the image ({exc})", hint="store the images as PNG files") from None
    pixels = _resize(image, size) / 255.0
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _folder(root: Path, size: tuple[int, int], channels: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if not root.is_dir():
        raise EdgeDeployError(f"image folder {root} does not exist", hint="pass --data with an existing folder")
    names = image_class_names(root)
    if len(names) < 2:
        raise EdgeDeployError(f"{root}: {len(names)} class subfolder(s) with images; a classifier needs at least 2",
                              hint="lay the images out as DIR/<class name>/<image>.png, one subfolder per class")
    xs, ys = [], []
    for label, name in enumerate(names):
        for path in sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            xs.append(_read_image(path, size, channels))
            ys.append(label)
    return np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64), tuple(names)


def _signature(root: Path) -> tuple:
    # Part of the cache key, so a folder whose files change is read again.
    if not root.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()))


@functools.lru_cache(maxsize=4)
def _load_all(key: str | None, size: tuple[int, int], channels: int, _signature: tuple = ()):
    return _digits(size, channels) if key is None else _folder(Path(key), size, channels)


def split_indices(y: np.ndarray, split: str, fractions: Sequence[float], seed: int) -> np.ndarray:
    """Indices of ``split`` (train, val, test or all) of labels ``y``: each class's samples are
    shuffled with ``seed`` and cut by ``fractions`` (train, val; test gets the rest), so the splits
    are disjoint and stratified. Returned grouped by class, in shuffled order within a class."""
    if split not in SPLITS:
        raise EdgeDeployError(f"unknown split {split!r}", hint=f"use one of {', '.join(SPLITS)}")
    train, val = float(fractions[0]), float(fractions[1])
    if train <= 0 or val < 0 or train + val >= 1:
        raise EdgeDeployError(f"split fractions train={train}, val={val} leave no test data",
                              hint="use positive fractions with train + val < 1 (for example 0.7 and 0.1)")
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cut_train, cut_val = int(round(len(members) * train)), int(round(len(members) * (train + val)))
        picked.append({"train": members[:cut_train], "val": members[cut_train:cut_val],
                       "test": members[cut_val:], "all": members}[split])
    return np.concatenate(picked)


def load_images(
    data: str | Path | None,
    split: str,
    *,
    size: Sequence[int],
    channels: int = 1,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    split_seed: int = 0,
    snr_db: float | None = None,
    seed: int = 0,
    labels: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load one split of an image data set; return ``(x float32 (N, channels, H, W) in [0, 1],
    y int64 (N,), class_names)``.

    Takes the data (None: scikit-learn's digits; else a folder ``DIR/<class>/*.png``), the split
    (train, val, test or all), the size ``(H, W)`` every image is resized to, 1 (grayscale) or 3
    (RGB) channels, the train and validation fractions of every class, the seed of the per-class
    shuffle, an optional SNR in dB of white noise added to every image (seeded by ``seed``; the
    image's mean power over noise power, as for windows) and the labels to keep. Raises
    EdgeDeployError on a missing or unreadable folder, fewer than two classes, a missing
    scikit-learn, or a split with no image.
    """
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1 or int(channels) not in (1, 3):
        raise EdgeDeployError(f"image size {list(size)} with {channels} channel(s) is not an image input",
                              hint="use data.size: [H, W] and data.channels: 1 (grayscale) or 3 (RGB)")
    key = None if data is None else str(Path(data).expanduser().resolve())
    x, y, names = _load_all(key, size, int(channels), () if key is None else _signature(Path(key)))
    index = split_indices(y, split, fractions, int(split_seed))
    if labels is not None:
        index = index[np.isin(y[index], np.asarray(list(labels), dtype=np.int64))]
    if len(index) == 0:
        where = "the digits example" if data is None else str(data)
        raise EdgeDeployError(f"{where}: the {split!r} split holds no image",
                              hint="use larger fractions or more images per class")
    out = x[index]
    if snr_db is not None:
        flat = add_awgn(out.reshape(len(out), -1), float(snr_db), np.random.default_rng(seed))
        out = flat.reshape(out.shape)
    return np.ascontiguousarray(out, dtype=np.float32), y[index].copy(), list(names)
