"""The board and MLPerf benchmark scripts run their real paths: cycle_model_check against a
target (QEMU through --port: it has no DWT, so the check must refuse it), mlperf_timing on a
fixture model (the four MLPerf models do not load yet: batch -1 in their shape signature)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_deploy.cli import main

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parent.parent
CONV2D = REPO / "tests" / "data" / "tflite" / "conv2d.tflite"


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], capture_output=True, text=True,
                          timeout=900)


def test_cycle_model_check_skips_without_a_board():
    proc = _script("cycle_model_check.py", "some-build")
    assert proc.returncode == 0 and proc.stdout.startswith("skipped: no board attached")


def test_cycle_model_check_refuses_a_target_without_dwt(tmp_path, qemu_arm):
    from edge_deploy.emulators import start_emulator

    out = tmp_path / "build"
    assert main(["build", str(CONV2D), "--board", "mps2-an386", "--out", str(out)]) == 0
    with start_emulator("mps2-an386", out / "firmware.elf", emulator="qemu") as target:
        proc = _script("cycle_model_check.py", str(out), "--port", target.url, "--runs", "1",
                       "--out", str(tmp_path / "check.json"))
    assert proc.returncode != 0 and "systick ticks, not DWT cycles" in proc.stderr
    assert not (tmp_path / "check.json").exists()


def test_mlperf_timing_measures_a_model_and_reports_a_skip(tmp_path, qemu_arm):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model")
    out = tmp_path / "mlperf.json"
    proc = _script("mlperf_timing.py", "--models", str(CONV2D), str(broken), "--work", str(tmp_path / "work"),
                   "--out", str(out), "--markdown")
    assert proc.returncode == 0, proc.stderr
    assert "broken: skipped:" in proc.stdout and "| conv2d |" in proc.stdout
    rows = {row["model"]: row for row in json.loads(out.read_text())["models"]}
    conv = rows["conv2d"]
    assert "skipped" in rows["broken"] and conv["board"] == "nucleo-l4r5zi" and conv["clock_hz"] == 120_000_000
    assert conv["cycles"] >= conv["cycles_zero_wait"] and conv["cycles_p1"] < conv["cycles"] < conv["cycles_p3"]
    assert conv["flash_bytes"] == sum(layer["flash_bytes"] for layer in conv["layers"]) > 0
    assert all(layer["cycles"] >= layer["cycles_zero_wait"] for layer in conv["layers"])
    assert conv["latency_ms"] == round(conv["cycles"] / 120e6 * 1e3, 4)
