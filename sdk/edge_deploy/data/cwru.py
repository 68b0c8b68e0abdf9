"""The CWRU Bearing Data Center records: `.mat` files, 12 kHz drive-end channel, 10 classes.

A folder of the Data Center's files is read with its ``MANIFEST.tsv`` when present (it gives the
class, load and sample rate of every file) and otherwise from the record number, the last
``_``-separated token of each file name (``12k_Drive_End_B007_0_118.mat`` and ``118.mat`` are
both record 118). Records not at 12 kHz (the normal baselines, recorded at 48 kHz) are resampled.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np

from edge_deploy.data.records import Record, as_signal, resample_signal
from edge_deploy.errors import EdgeDeployError

SAMPLE_RATE_HZ = 12000

# The standard 10-class order (METHODS.md section 1; the data README's table).
CLASS_NAMES: tuple[str, ...] = (
    "normal",
    "ball_007",
    "ball_014",
    "ball_021",
    "inner_007",
    "inner_014",
    "inner_021",
    "outer_007",
    "outer_014",
    "outer_021",
)

# CWRU record number -> (class label, load in HP) for the 12 kHz drive-end set, loads 0-3 HP.
_RECORDS_BY_CLASS: dict[int, tuple[int, int, int, int]] = {
    0: (97, 98, 99, 100),
    1: (118, 119, 120, 121),
    2: (185, 186, 187, 188),
    3: (222, 223, 224, 225),
    4: (105, 106, 107, 108),
    5: (169, 170, 171, 172),
    6: (209, 210, 211, 212),
    7: (130, 131, 132, 133),
    8: (197, 198, 199, 200),
    9: (234, 235, 236, 237),
}
RECORD_TABLE: dict[int, tuple[int, int]] = {
    number: (label, load) for label, numbers in _RECORDS_BY_CLASS.items() for load, number in enumerate(numbers)
}
# The Data Center recorded the normal baselines at 48 kHz (see the data README, caveat 2).
_NATIVE_RATE_HZ = {number: 48000 for number in _RECORDS_BY_CLASS[0]}

_RECORD_NUMBER = re.compile(r"(\d+)$")


def record_number(path: Path) -> int | None:
    """Return the CWRU record number encoded at the end of a file name, or None."""
    match = _RECORD_NUMBER.search(path.stem.split("_")[-1])
    return int(match.group(1)) if match else None


def is_cwru_folder(root: Path) -> bool:
    """True if ``root`` looks like a folder of CWRU records (a manifest or any ``.mat`` file)."""
    return (root / "MANIFEST.tsv").is_file() or any(root.rglob("*.mat"))


_LOG = logging.getLogger(__name__)


def _warn_unlisted(root: Path, entries: list[dict]) -> None:
    """Log one warning naming the ``.mat`` files under ``root`` that the manifest does not list."""
    listed = {Path(e["path"]).resolve() for e in entries}
    unlisted = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.mat")) if p.resolve() not in listed]
    if unlisted:
        shown = ", ".join(unlisted[:8]) + (f" and {len(unlisted) - 8} more" if len(unlisted) > 8 else "")
        _LOG.warning("%s: %d .mat file(s) not listed in MANIFEST.tsv, ignored: %s", root, len(unlisted), shown)


def _read_manifest(root: Path) -> list[dict]:
    path = root / "MANIFEST.tsv"
    entries = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        required = {"file", "load_hp", "class_label", "sample_rate_hz"}
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise EdgeDeployError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}",
                hint="the manifest needs file, load_hp, class_label and sample_rate_hz columns",
            )
        for line_no, row in enumerate(reader, start=2):
            try:
                entry = {
                    "path": root / row["file"],
                    "load_hp": int(row["load_hp"]),
                    "label": int(row["class_label"]),
                    "sample_rate_hz": int(float(row["sample_rate_hz"])),
                }
            except (TypeError, ValueError) as exc:
                raise EdgeDeployError(f"{path}, line {line_no}: {exc}", hint="fix the row or delete the manifest") from exc
            if not 0 <= entry["label"] < len(CLASS_NAMES):
                raise EdgeDeployError(
                    f"{path}, line {line_no}: class_label {entry['label']} is outside 0..{len(CLASS_NAMES) - 1}",
                    hint="use the standard 10-class labels",
                )
            entries.append(entry)
    _warn_unlisted(root, entries)
    return entries


def _scan_folder(root: Path) -> list[dict]:
    entries = []
    for path in sorted(root.rglob("*.mat")):
        number = record_number(path)
        if number is None or number not in RECORD_TABLE:
            raise EdgeDeployError(
                f"{path}: cannot tell its class (record number {number} is not a known 12 kHz drive-end record)",
                hint="add a MANIFEST.tsv with file, load_hp, class_label and sample_rate_hz columns, or remove the file",
            )
        label, load = RECORD_TABLE[number]
        entries.append(
            {"path": path, "load_hp": load, "label": label, "sample_rate_hz": _NATIVE_RATE_HZ.get(number, SAMPLE_RATE_HZ)}
        )
    return entries


def read_drive_end(path: Path) -> np.ndarray:
    """Return the drive-end accelerometer channel (``X<nnn>_DE_time``) of one CWRU ``.mat`` file.

    Raises EdgeDeployError if the file cannot be read or holds no drive-end channel.
    """
    from scipy.io import loadmat

    try:
        content = loadmat(str(path))
    except Exception as exc:  # scipy raises several types for corrupt files
        raise EdgeDeployError(f"{path}: not a readable MATLAB file ({exc})", hint="re-download the record") from exc
    keys = sorted(k for k in content if k.endswith("_DE_time"))
    if not keys:
        raise EdgeDeployError(f"{path}: no drive-end channel (no X<nnn>_DE_time variable)", hint="use the drive-end records")
    # Some CWRU files also carry a neighbouring record; prefer the one the file is named after.
    number = record_number(path)
    wanted = f"X{number:03d}_DE_time" if number is not None else None
    key = wanted if wanted in keys else keys[0]
    return as_signal(content[key], f"{path}:{key}")


def load_cwru_records(root: str | Path, load_hp: tuple[int, ...] = (0,)) -> list[Record]:
    """Read every CWRU record at the given loads from ``root``, resampled to 12 kHz.

    Takes the folder and the motor loads wanted; returns Records ordered by (load, label, file).
    Raises EdgeDeployError if the folder is missing, a file is unreadable or unlabeled, or no
    record matches the loads.
    """
    root = Path(root)
    if not root.is_dir():
        raise EdgeDeployError(f"data folder {root} does not exist", hint="pass --data with the folder of CWRU .mat files")
    entries = _read_manifest(root) if (root / "MANIFEST.tsv").is_file() else _scan_folder(root)
    wanted = [e for e in entries if e["load_hp"] in set(load_hp)]
    if not wanted:
        have = sorted({e["load_hp"] for e in entries})
        raise EdgeDeployError(
            f"{root}: no records at load(s) {list(load_hp)} HP (the folder has loads {have})",
            hint="choose loads the folder holds with --load-hp",
        )
    records = []
    for entry in sorted(wanted, key=lambda e: (e["load_hp"], e["label"], str(e["path"]))):
        if not entry["path"].is_file():
            raise EdgeDeployError(f"{entry['path']}: listed in the manifest but missing", hint="restore the file or fix MANIFEST.tsv")
        signal = resample_signal(read_drive_end(entry["path"]), entry["sample_rate_hz"], SAMPLE_RATE_HZ)
        records.append(
            Record(signal=signal, label=entry["label"], sample_rate_hz=SAMPLE_RATE_HZ, source=str(entry["path"]), load_hp=entry["load_hp"])
        )
    return records
