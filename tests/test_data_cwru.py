"""The CWRU loader on the real records (../shared/data/cwru): labels, loads, the 48 kHz record."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.data import CLASS_NAMES, load_records, load_windows
from edge_deploy.data.cwru import load_cwru_records, record_number
from edge_deploy.errors import EdgeDeployError


def _dominant_frequency(signal: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    freqs = np.fft.rfftfreq(len(signal), 1.0 / rate)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(spectrum[band])])


def test_0hp_has_ten_classes_at_12khz(cwru_dir: Path) -> None:
    records = load_cwru_records(cwru_dir, (0,))
    assert sorted(r.label for r in records) == list(range(10))
    assert all(r.sample_rate_hz == 12000 and r.signal.dtype == np.float32 for r in records)
    fault_lengths = [len(r.signal) for r in records if r.label != 0]
    assert min(fault_lengths) > 120_000  # about 10 s at 12 kHz, untouched


def test_48khz_normal_record_comes_out_at_12khz(cwru_dir: Path) -> None:
    from scipy.io import loadmat

    normal = next(r for r in load_cwru_records(cwru_dir, (0,)) if r.label == 0)
    raw = loadmat(str(cwru_dir / "load_0hp" / "normal_0_97.mat"))["X097_DE_time"].ravel()
    assert len(normal.signal) == -(-len(raw) // 4)
    # The shaft turns at about 29.95 Hz (1797 rpm): read at 12 kHz the decimated record must put
    # its shaft peak there, as the 48 kHz original does at 48 kHz.
    assert _dominant_frequency(normal.signal, 12000, 20, 40) == pytest.approx(29.95, abs=0.5)
    assert _dominant_frequency(raw, 48000, 20, 40) == pytest.approx(29.95, abs=0.5)
    # Same signal, lower rate: the decimated record tracks the original's every 4th sample.
    corr = np.corrcoef(normal.signal[100:-100], raw[::4][100 : len(normal.signal) - 100])[0, 1]
    assert corr > 0.9


def test_loads_1_and_2_lack_the_normal_class(cwru_dir: Path) -> None:
    for load in (1, 2):
        labels = sorted({r.label for r in load_cwru_records(cwru_dir, (load,))})
        assert labels == list(range(1, 10))
    x, y, names = load_windows(cwru_dir, "test", load_hp=(1, 2))
    assert names == list(CLASS_NAMES) and 0 not in set(y.tolist()) and x.shape[1:] == (1, 2048)


def test_labels_from_record_numbers_without_manifest(cwru_dir: Path, tmp_path: Path) -> None:
    for name in ("normal_0_97.mat", "12k_Drive_End_IR014_0_169.mat"):
        shutil.copy(cwru_dir / "load_0hp" / name, tmp_path / name)
    with_manifest = {r.label: r.signal for r in load_cwru_records(cwru_dir, (0,))}
    records = load_cwru_records(tmp_path, (0,))
    assert [r.label for r in records] == [0, 5]
    for record in records:  # same labels and the same resampling as with the manifest
        np.testing.assert_array_equal(record.signal, with_manifest[record.label])
    assert record_number(Path("118.mat")) == 118


def test_files_missing_from_the_manifest_are_named_in_a_warning(cwru_dir: Path, tmp_path: Path, caplog) -> None:
    (tmp_path / "load_0hp").mkdir()
    shutil.copy(cwru_dir / "load_0hp" / "12k_Drive_End_IR014_0_169.mat", tmp_path / "load_0hp" / "a_169.mat")
    shutil.copy(cwru_dir / "load_0hp" / "12k_Drive_End_IR014_0_169.mat", tmp_path / "load_0hp" / "extra_169.mat")
    (tmp_path / "MANIFEST.tsv").write_text("file\tload_hp\tclass_label\tsample_rate_hz\nload_0hp/a_169.mat\t0\t5\t12000\n")
    with caplog.at_level(logging.WARNING, logger="edge_deploy.data.cwru"):
        records = load_cwru_records(tmp_path, (0,))
    assert [r.label for r in records] == [5]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1 .mat file(s) not listed in MANIFEST.tsv" in warnings[0]
    assert "load_0hp/extra_169.mat" in warnings[0] and "a_169.mat," not in warnings[0]
    caplog.clear()
    (tmp_path / "load_0hp" / "extra_169.mat").unlink()
    with caplog.at_level(logging.WARNING, logger="edge_deploy.data.cwru"):
        load_cwru_records(tmp_path, (0,))
    assert not caplog.records  # every file listed: silent


def test_unlabeled_and_unreadable_files_are_refused(cwru_dir: Path, tmp_path: Path) -> None:
    shutil.copy(cwru_dir / "load_0hp" / "12k_Drive_End_B007_0_118.mat", tmp_path / "mystery_999.mat")
    with pytest.raises(EdgeDeployError, match="mystery_999.mat.*cannot tell its class"):
        load_cwru_records(tmp_path)
    (tmp_path / "mystery_999.mat").unlink()
    (tmp_path / "broken_118.mat").write_bytes(b"this is not a MATLAB file")
    with pytest.raises(EdgeDeployError, match="broken_118.mat.*not a readable MATLAB file"):
        load_cwru_records(tmp_path)


def test_missing_folder_and_missing_load_are_clear_errors(cwru_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgeDeployError, match="does not exist"):
        load_records(tmp_path / "nowhere")
    with pytest.raises(EdgeDeployError, match=r"no records at load\(s\) \[3\] HP"):
        load_cwru_records(cwru_dir, (3,))
