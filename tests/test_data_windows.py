"""Windowing, splits without leakage, normalization, noise at a requested SNR, resampling, folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.data import (
    add_awgn,
    load_records,
    load_windows,
    measured_snr_db,
    resample_signal,
    split_bounds,
    window_starts,
)
from edge_deploy.errors import EdgeDeployError


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3000, 200_000),
    window=st.integers(16, 2048),
    stride=st.integers(1, 1024),
    train=st.floats(0.3, 0.8),
    val=st.floats(0.02, 0.15),
)
def test_no_test_window_overlaps_a_training_window(n, window, stride, train, val) -> None:
    spans = {}
    for split in ("train", "val", "test"):
        start, stop = split_bounds(n, split, (train, val))
        starts = window_starts(start, stop, window, stride)
        assert np.all(starts >= start) and np.all(starts + window <= stop)
        spans[split] = (starts.min(), starts.max() + window) if len(starts) else None
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if spans[a] and spans[b]:
            assert spans[a][1] <= spans[b][0], f"{a} windows reach into {b}"


def test_excerpt_windows_follow_the_contract() -> None:
    x, y, names = load_windows(None, "train")
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape[1:] == (1, 2048)
    assert len(names) == 10 and sorted(set(y.tolist())) == list(range(10))
    np.testing.assert_allclose(x.mean(axis=-1), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=-1), 1, atol=1e-3)
    x_test, _, _ = load_windows(None, "test")
    # Disjoint time ranges: no test window equals any training window.
    train_set = {row.tobytes() for row in x[:, 0, :]}
    assert not any(row.tobytes() in train_set for row in x_test[:, 0, :])


def test_training_windows_overlap_each_other_for_augmentation() -> None:
    x, _, _ = load_windows(None, "train", stride=256, normalize=False)
    np.testing.assert_array_equal(x[0, 0, 256:], x[1, 0, :-256])


@pytest.mark.parametrize("snr_db", [-4.0, 0.0, 6.0, 10.0])
def test_noise_measures_at_the_requested_snr(snr_db: float) -> None:
    clean, _, _ = load_windows(None, "test", normalize=False)
    noisy = add_awgn(clean, snr_db, np.random.default_rng(1))
    assert measured_snr_db(clean, noisy) == pytest.approx(snr_db, abs=0.1)
    per_window = [measured_snr_db(c, n) for c, n in zip(clean[:, 0], noisy[:, 0])]
    assert np.median(per_window) == pytest.approx(snr_db, abs=0.2)
    residual = (noisy - clean).ravel()
    assert abs(np.corrcoef(residual[:-1], residual[1:])[0, 1]) < 0.02  # white


def test_noisy_windows_are_seeded() -> None:
    a, _, _ = load_windows(None, "test", snr_db=0, seed=3)
    b, _, _ = load_windows(None, "test", snr_db=0, seed=3)
    c, _, _ = load_windows(None, "test", snr_db=0, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_resampling_removes_what_would_alias() -> None:
    t = np.arange(48000) / 48000.0
    in_band = np.sin(2 * np.pi * 1000 * t)
    above_nyquist = np.sin(2 * np.pi * 9000 * t)  # would fold to 3 kHz at 12 kHz
    out_pass = resample_signal(in_band, 48000, 12000)
    out_stop = resample_signal(above_nyquist, 48000, 12000)
    assert len(out_pass) == 12000
    assert np.std(out_pass[100:-100]) == pytest.approx(np.std(in_band), rel=0.01)
    assert 20 * np.log10(np.std(out_stop[100:-100]) / np.std(above_nyquist)) < -60


def test_folder_of_npy_and_csv_signals(tmp_path: Path) -> None:
    records, _ = load_records(None)
    for record in records[:3]:
        folder = tmp_path / f"class_{record.label}"
        folder.mkdir()
        np.save(folder / "a.npy", record.signal[:20000])
        np.savetxt(folder / "b.csv", record.signal[20000:40000, None], delimiter=",")
    x, y, names = load_windows(tmp_path, "train", window=1024)
    assert names == ["class_0", "class_1", "class_2"]
    assert sorted(set(y.tolist())) == [0, 1, 2] and x.shape[1:] == (1, 1024)
    (tmp_path / "class_0" / "bad.csv").write_text("1,2\nx,y\n")
    with pytest.raises(EdgeDeployError, match="bad.csv"):
        load_windows(tmp_path, "train", window=1024)


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeDeployError, match="unknown split 'testing'"):
        load_windows(None, "testing")
    with pytest.raises(EdgeDeployError, match="holds no window"):
        load_windows(None, "val", window=8192)
    with pytest.raises(EdgeDeployError, match="only holds 0 HP"):
        load_windows(None, "test", load_hp=(2,))
    (tmp_path / "notes.txt").write_text("no signals here")
    with pytest.raises(EdgeDeployError, match="neither a CWRU folder"):
        load_windows(tmp_path, "train")
