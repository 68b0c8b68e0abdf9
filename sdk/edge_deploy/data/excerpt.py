"""The CWRU excerpt shipped inside the package: the first seconds of each 0 HP record.

``cwru_0hp_excerpt.npz`` holds, for each of the 10 classes, the first ``EXCERPT_SECONDS`` of the
drive-end signal at 12 kHz (the 48 kHz normal record decimated first), stored as int16 with one
scale per record (about 90 dB of dynamic range, far below the sensor's noise) to stay small. It
lets the main job and the tests run without the full data. Rebuild it with
``python -m edge_deploy.data.excerpt /path/to/cwru``.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

from edge_deploy.data.cwru import CLASS_NAMES, SAMPLE_RATE_HZ, load_cwru_records, record_number
from edge_deploy.data.records import Record
from edge_deploy.errors import EdgeDeployError

EXCERPT_PATH = Path(__file__).resolve().parent / "cwru_0hp_excerpt.npz"
EXCERPT_SECONDS = 4.0
EXCERPT_NAME = "bundled:cwru_0hp_excerpt"


def build_excerpt(cwru_dir: str | Path, out_path: str | Path = EXCERPT_PATH, seconds: float = EXCERPT_SECONDS) -> Path:
    """Write the excerpt from a full CWRU folder; return its path.

    Takes the folder of CWRU records and the seconds kept per class. Raises EdgeDeployError if
    a class is missing at 0 HP. The output is byte-identical for the same inputs.
    """
    from edge_deploy.fsutil import atomic_write_bytes

    records = load_cwru_records(cwru_dir, load_hp=(0,))
    by_label = {r.label: r for r in records}
    missing = [CLASS_NAMES[i] for i in range(len(CLASS_NAMES)) if i not in by_label]
    if missing:
        raise EdgeDeployError(f"{cwru_dir}: no 0 HP record for {', '.join(missing)}", hint="point at the full CWRU folder")
    n = int(round(seconds * SAMPLE_RATE_HZ))
    arrays: dict[str, np.ndarray] = {}
    sources = []
    for label in range(len(CLASS_NAMES)):
        signal = by_label[label].signal[:n].astype(np.float64)
        scale = float(np.max(np.abs(signal))) / 32767.0
        arrays[f"signal_{label}"] = np.round(signal / scale).astype(np.int16)
        arrays[f"scale_{label}"] = np.array(scale, dtype=np.float64)
        sources.append(f"CWRU record {record_number(Path(by_label[label].source))}")
    meta = {"classes": list(CLASS_NAMES), "sample_rate_hz": SAMPLE_RATE_HZ, "load_hp": 0, "sources": sources, "seconds": seconds}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(out_path, buffer.getvalue())


def load_excerpt_records(path: str | Path = EXCERPT_PATH) -> list[Record]:
    """Return the bundled excerpt as 10 Records (one per class, 0 HP, 12 kHz, float32).

    Raises EdgeDeployError if the installation lacks the excerpt file.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(
            f"the bundled CWRU excerpt {path} is missing",
            hint="reinstall edge-deploy, or rebuild it with 'python -m edge_deploy.data.excerpt /path/to/cwru'",
        )
    with np.load(path, allow_pickle=False) as content:
        meta = json.loads(bytes(content["meta"]).decode("utf-8"))
        return [
            Record(
                signal=(content[f"signal_{label}"].astype(np.float64) * float(content[f"scale_{label}"])).astype(np.float32),
                label=label,
                sample_rate_hz=int(meta["sample_rate_hz"]),
                source=f"{EXCERPT_NAME}:{meta['sources'][label]}",
                load_hp=int(meta["load_hp"]),
            )
            for label in range(len(meta["classes"]))
        ]


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if len(sys.argv) != 2:
        sys.exit("usage: python -m edge_deploy.data.excerpt /path/to/cwru")
    written = build_excerpt(sys.argv[1])
    print(f"wrote {written} ({written.stat().st_size} bytes)")
