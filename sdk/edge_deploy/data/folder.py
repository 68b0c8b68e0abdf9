"""Users' own signals: a folder with one subfolder per class, each holding `.npy` or `.csv` files.

Every file is one record (a single channel, as a row or a column of samples); the class names are
the subfolder names in sorted order. Records are taken at the rate they were stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_deploy.data.records import Record, as_signal
from edge_deploy.errors import EdgeDeployError

SIGNAL_SUFFIXES = (".npy", ".csv")


def _read_signal(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            array = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=1)
    except Exception as exc:  # NumPy raises ValueError/OSError/EOFError on bad files
        raise EdgeDeployError(f"{path}: cannot read the signal ({exc})", hint="store a plain .npy array or numeric CSV") from exc
    return as_signal(array, str(path))


def folder_class_names(root: Path) -> list[str]:
    """Return the class names of a signal folder: its subfolders that hold signal files, sorted."""
    return sorted(
        d.name for d in root.iterdir() if d.is_dir() and any(f.suffix in SIGNAL_SUFFIXES for f in d.iterdir())
    )


def is_signal_folder(root: Path) -> bool:
    """True if ``root`` has at least one class subfolder with `.npy` or `.csv` files."""
    return root.is_dir() and bool(folder_class_names(root))


def load_folder_records(root: str | Path, sample_rate_hz: int = 12000) -> tuple[list[Record], list[str]]:
    """Read a folder of per-class signal files; return (records, class names).

    ``sample_rate_hz`` is recorded in each Record (files carry no rate). Raises EdgeDeployError if
    the folder has no class subfolders or a file is unreadable.
    """
    root = Path(root)
    if not root.is_dir():
        raise EdgeDeployError(f"data folder {root} does not exist", hint="pass --data with an existing folder")
    names = folder_class_names(root)
    if not names:
        raise EdgeDeployError(
            f"{root}: no class subfolders with .npy or .csv files",
            hint="lay the data out as DIR/<class name>/<record>.npy (or .csv), one subfolder per class",
        )
    records = []
    for label, name in enumerate(names):
        for path in sorted((root / name).iterdir()):
            if path.suffix in SIGNAL_SUFFIXES:
                records.append(Record(signal=_read_signal(path), label=label, sample_rate_hz=sample_rate_hz, source=str(path)))
    return records, names
