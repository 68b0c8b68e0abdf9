"""The board and MLPerf benchmark scripts run their real paths: cycle_model_check against a
target (QEMU through --port: it has no DWT, so the check must refuse it), mlperf_timing on a
fixture model (the four MLPerf models do not load yet: batch -1 in their shape signature), and
tflm_examples on a checkout laid out as TFLM's Arduino examples (a fixture in one model's place)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
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


def _c_array(name: str, data: bytes) -> str:
    """``data`` as TFLM's examples ship a model: a C array of hexadecimal bytes, twelve a line."""
    lines = [", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    return f"// a model\n#include \"model.h\"\n\nalignas(16) const unsigned char {name}[] = {{\n    " + \
        ",\n    ".join(lines) + "};\nconst int len = %d;\n" % len(data)


def test_tflm_examples_reads_a_model_back_from_its_c_array():
    import importlib
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        tflm_examples = importlib.import_module("tflm_examples")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    data = CONV2D.read_bytes()
    assert tflm_examples.model_bytes(_c_array("g_model", data), "g_model") == data
    with pytest.raises(ValueError, match="no array g_other"):
        tflm_examples.model_bytes(_c_array("g_model", data), "g_other")
    with pytest.raises(ValueError, match="not a TFLite model"):
        tflm_examples.model_bytes(_c_array("g_model", b"\x00" * 16), "g_model")
    with pytest.raises(ValueError, match="other than hexadecimal bytes"):
        tflm_examples.model_bytes("const unsigned char g_model[] = {0x1c, kTail};", "g_model")


def test_tflm_examples_measures_each_model_and_reports_a_missing_one(tmp_path, qemu_arm, monkeypatch):
    """A checkout laid out as tflite-micro-arduino-examples, the person_detect slot holding the
    conv2d fixture as a C array and micro_speech's file missing: the script measures the one on
    QEMU (checked bit-exact), names the other as skipped with its path, and exits 1; without a
    checkout it says what to set and exits 0, and a named folder that is not there is an error."""
    monkeypatch.delenv("EDGE_DEPLOY_TFLM_EXAMPLES", raising=False)
    monkeypatch.delenv("EDGE_DEPLOY_CMSIS_NN", raising=False)
    proc = _script("tflm_examples.py", "--out", str(tmp_path / "none.json"))
    assert proc.returncode == 0 and proc.stdout.startswith("skipped: no examples checkout: set EDGE_DEPLOY_TFLM")
    assert not (tmp_path / "none.json").exists()
    proc = _script("tflm_examples.py", "--examples", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "x.json"))
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "is not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.json").exists()
    examples = tmp_path / "examples-checkout"
    source = examples / "examples" / "person_detection" / "person_detect_model_data.cpp"
    source.parent.mkdir(parents=True)
    source.write_text(_c_array("g_person_detect_model_data", CONV2D.read_bytes()))
    out = tmp_path / "tflm.json"
    proc = _script("tflm_examples.py", "--examples", str(examples), "--work", str(tmp_path / "work"), "--check", "1",
                   "--out", str(out), "--markdown")
    assert proc.returncode == 1, proc.stderr
    assert "skipped: micro_speech: " in proc.stdout and "micro_features_model.cpp" in proc.stdout
    assert (tmp_path / "work" / "person_detect.tflite").read_bytes() == CONV2D.read_bytes()
    rows = {row["model"]: row for row in json.loads(out.read_text())["models"]}
    person = rows["person_detect"]
    assert person["check"]["passed"] and person["check"]["mismatches"] == 0
    assert person["macs"] > 0 and person["cycles"] >= person["cycles_zero_wait"] > 0
    assert person["ratio_to_upstream"] is None and "no upstream checkout" in person["cmsis_nn"]["skipped"]
    assert "| person_detect |" in proc.stdout and "skipped" in rows["micro_speech"]


def test_flash_pricing_measures_each_kernel_at_each_timing(qemu_arm):
    """flash_pricing's measurement on a small pointwise layer: every kernel that applies runs
    bit-exact at 0 wait states and at the L4R5's flash, the flash costs cycles, the price there is
    the cost model's at that flash, and one kernel is chosen and one fastest per timing."""
    import importlib

    from edge_deploy.boards import load_board

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        flash_pricing = importlib.import_module("flash_pricing")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))

    l4r5 = load_board("nucleo-l4r5zi").flash
    with tempfile.TemporaryDirectory() as tmp:
        rows = flash_pricing.measure([("2x2 16->8", 2, 2, 16, 8)], {None: None, "L4R5": l4r5}, Path(tmp))
    kernels = {r["kernel"] for r in rows}
    assert kernels == set(flash_pricing.KERNELS) and all(r["bit_exact"] for r in rows)
    by = {(r["timing"], r["kernel"]): r for r in rows}
    for kernel in kernels:
        assert by[("L4R5", kernel)]["cycles"] > by[("0 wait states", kernel)]["cycles"]
        assert by[("L4R5", kernel)]["modelled"] > by[("0 wait states", kernel)]["modelled"]
    for timing in ("0 wait states", "L4R5"):
        assert sum(r["chosen"] for r in rows if r["timing"] == timing) == 1
        assert sum(r["fastest"] for r in rows if r["timing"] == timing) == 1


def test_mlperf_tiny_measures_within_the_flash_target_where_the_default_is_over(tmp_path, qemu_arm):
    """A 3x3 32 -> 32 convolution: the default build takes the Winograd kernel (its filters 4x the
    int8 bytes) and goes over the model's weights + 40 KB; mlperf_tiny says so and measures the
    model again with --flash-limit at that target: Winograd given back, within it, slower."""
    import importlib

    import numpy as np

    from edge_deploy.kernels._layers import conv2d
    from edge_deploy.testing.random_layers import random_case
    from edge_deploy.tflite import export_tflite

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        mlperf_tiny = importlib.import_module("mlperf_tiny")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    graph = random_case(np.random.default_rng(0), "ed_convolve_winograd_s8", conv2d(8, 8, 32, 32, 3, 1, "same")).call.graph
    model = tmp_path / "conv3x3.tflite"
    model.write_bytes(export_tflite(graph))
    row = mlperf_tiny.run_model(model, tmp_path, 0, None, "no upstream checkout")
    assert [layer["kernel"] for layer in row["layers"]] == ["ed_convolve_winograd_s8"]
    assert row["flash_target_bytes"] == row["model_weights_bytes"] + 40 * 1024
    assert row["flash_bytes"] > row["flash_target_bytes"] and not row["flash_target_met"]
    limited = row["within_flash_target"]
    assert limited["build_args"] == ["--flash-limit", str(row["flash_target_bytes"])]
    assert limited["flash_bytes"] <= row["flash_target_bytes"] and "no winograd" in " ".join(limited["flash_fallback"])
    assert limited["cycles"] > row["cycles"]
