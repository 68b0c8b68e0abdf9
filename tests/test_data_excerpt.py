"""The CWRU excerpt bundled inside the package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_deploy.data.cwru import load_cwru_records
from edge_deploy.data.excerpt import EXCERPT_PATH, build_excerpt, load_excerpt_records


def test_excerpt_is_small_and_holds_every_class() -> None:
    assert EXCERPT_PATH.stat().st_size < 2 * 1024 * 1024
    records = load_excerpt_records()
    assert [r.label for r in records] == list(range(10))
    assert all(r.sample_rate_hz == 12000 and r.load_hp == 0 and len(r.signal) >= 3 * 12000 for r in records)


def test_excerpt_is_the_start_of_the_real_records(cwru_dir: Path) -> None:
    full = {r.label: r.signal for r in load_cwru_records(cwru_dir, (0,))}
    for record in load_excerpt_records():
        reference = full[record.label][: len(record.signal)]
        # int16 storage: error at most half a step of the record's own scale.
        step = np.max(np.abs(reference)) / 32767
        assert np.max(np.abs(record.signal - reference)) <= 0.51 * step + 1e-7


def test_rebuilding_the_excerpt_is_byte_identical(cwru_dir: Path, tmp_path: Path) -> None:
    rebuilt = build_excerpt(cwru_dir, tmp_path / "excerpt.npz")
    assert rebuilt.read_bytes() == EXCERPT_PATH.read_bytes()
