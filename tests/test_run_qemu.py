"""edge-deploy run on QEMU mps2-an386: generated firmware against the reference interpreter over
the real serial protocol, both kernel paths, a .tflite fixture, a .pt checkpoint, --port, the
project's own Makefile build, and a mismatch that must fail."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_models import TICNN_PARAMS, random_inputs, ticnn_graph, ticnn_inputs, tiny_graph

from edge_deploy.build.firmware_build import build_graph
from edge_deploy.cli import main
from edge_deploy.interp.interpreter import run
from edge_deploy.tflite import export_tflite, load_tflite

pytestmark = pytest.mark.qemu
TFLITE_DIR = Path(__file__).resolve().parent / "data" / "tflite"


def _run_check(build_dir: Path, batch: np.ndarray, tmp_path: Path, *extra: str) -> tuple[int, np.ndarray | None]:
    inputs, outputs = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(inputs, batch)
    status = main(["run", str(build_dir), "--inputs", str(inputs), "--out", str(outputs), "--check", *extra])
    return status, (np.load(outputs) if outputs.exists() else None)


@pytest.mark.parametrize("kernels", ["simd", "portable"])
def test_tiny_and_ticnn_match_the_reference_on_both_kernel_paths(kernels, qemu_arm, tmp_path):
    for graph, batch in ((tiny_graph(seed=2), None), (ticnn_graph(), None)):
        batch = random_inputs(graph, 4, seed=7) if graph.name == "tiny" else ticnn_inputs(graph, 3)
        model = tmp_path / f"{graph.name}.tflite"
        model.write_bytes(export_tflite(graph))
        out = tmp_path / f"{graph.name}-{kernels}"
        assert main(["build", str(model), "--board", "mps2-an386", "--out", str(out), "--kernels", kernels]) == 0
        status, outputs = _run_check(out, batch, tmp_path)
        assert status == 0
        assert np.array_equal(outputs, run(graph, batch))
        check = json.loads((out / "check.json").read_text())
        assert (check["n"], check["mismatches"], check["kernels"]) == (len(batch), 0, kernels)


@pytest.mark.parametrize("fixture", ["depthwise", "residual_add", "gap_mean"])
def test_tflite_fixture_builds_and_matches(fixture, qemu_arm, tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["build", str(TFLITE_DIR / f"{fixture}.tflite"), "--board", "mps2-an386", "--out", str(out)]) == 0
    # Every layer that runs code runs a registered kernel (CMSIS-NN's API or edge-deploy's own),
    # and the generated C calls the kernel the report names.
    from edge_deploy.kernels import all_kernels

    names = {spec.name for spec in all_kernels()}
    layers = [layer for layer in json.loads((out / "report.json").read_text())["layers"] if layer["kernel"]]
    model_c = (out / "src" / "model.c").read_text()
    assert len(layers) >= 2 and all(layer["kernel"] in names for layer in layers)
    assert all(f"{layer['kernel']}(" in model_c for layer in layers)
    capsys.readouterr()
    graph = load_tflite(TFLITE_DIR / f"{fixture}.tflite")
    batch = random_inputs(graph, 5, seed=11)
    status, outputs = _run_check(out, batch, tmp_path)
    assert status == 0 and np.array_equal(outputs, run(graph, batch))
    # QEMU's counter is SysTick in virtual time: reported as instructions, never as cycles.
    printed = capsys.readouterr().out
    assert "instructions per inference (QEMU virtual time: SysTick ticks x 40" in printed
    assert "cycles per inference" not in printed and "device counter" not in printed


def test_counter_summary_names_what_was_counted():
    from edge_deploy.build.device_run import BatchRun, counter_summary

    def batch(counter, target, totals, hz=120_000_000):
        return BatchRun(np.zeros((len(totals), 1), np.int8), np.zeros((len(totals), 1), np.int64),
                        np.asarray(totals, np.int64), counter=counter, counter_hz=hz, target=target)
    assert counter_summary(batch("dwt", "port", [1_200_000, 1_200_002])) == (
        "1,200,001 cycles per inference (DWT CYCCNT: 10.000 ms at 120 MHz)")
    assert counter_summary(batch("systick", "qemu", [100], hz=25_000_000)).startswith(
        "about 4,000 instructions per inference")
    assert "Renode virtual time, not core cycles" in counter_summary(batch("dwt", "renode", [5]))
    assert "not cycles" in counter_summary(batch("systick", "port", [5]))


def test_a_wrong_reference_fails_the_check(qemu_arm, tmp_path, capsys):
    graph = tiny_graph(seed=3)
    build = build_graph(graph, "mps2-an386", tmp_path / "build")
    # The firmware keeps the real weights; the reference it is checked against gets other biases.
    altered = graph.copy()
    altered.tensor("fc/bias").data = altered.tensor("fc/bias").data + 500
    (build.out_dir / "model.tflite").write_bytes(export_tflite(altered))
    status, _ = _run_check(build.out_dir, random_inputs(graph, 4, seed=1), tmp_path)
    assert status == 1
    assert "differ from the reference interpreter" in capsys.readouterr().err
    check = json.loads((build.out_dir / "check.json").read_text())
    assert check["n"] == 4 and check["mismatches"] > 0 and check["mismatched_elements"] > 0


def test_checkpoint_builds_and_float_inputs_are_quantized(qemu_arm, tmp_path):
    from edge_deploy.data import load_windows
    from edge_deploy.models import build_model
    from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint

    torch.manual_seed(1)
    spec = {"data": None, "load_hp": [0], "window": 2048, "stride": 512, "fractions": [0.7, 0.1]}
    _, y, names = load_windows(split="train", **spec)
    spec["labels"] = sorted(int(v) for v in np.unique(y))
    checkpoint = Checkpoint(arch={"name": "ticnn", "params": TICNN_PARAMS},
                            members=[build_model("ticnn", **TICNN_PARAMS).eval()],
                            input={"channels": 1, "length": 2048, "sample_rate_hz": 12000}, classes=names, data=spec)
    save_checkpoint(tmp_path / "model.pt", checkpoint)
    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "model.pt"), "--board", "mps2-an386", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["details"]["kind"] == "checkpoint" and report["input"]["shape"] == [1, 1, 2048, 1]
    x, _, _ = load_windows(None, "test", window=2048)
    status, outputs = _run_check(out, x[:3].astype(np.float32), tmp_path)  # PyTorch layout (N, 1, 2048)
    assert status == 0 and outputs.shape == (3, 10)


def test_port_option_talks_to_a_running_firmware(qemu_arm, tmp_path, capsys):
    from edge_deploy.emulators import start_emulator

    graph = tiny_graph(seed=4)
    build = build_graph(graph, "mps2-an386", tmp_path / "build")
    batch = random_inputs(graph, 3, seed=2)
    with start_emulator("mps2-an386", build.elf, emulator="qemu") as target:
        status, outputs = _run_check(build.out_dir, batch, tmp_path, "--port", target.url)
    assert status == 0 and np.array_equal(outputs, run(graph, batch))
    assert target.url in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_build_runs_and_matches(qemu_arm, tmp_path):
    graph = tiny_graph(seed=6)
    build = build_graph(graph, "mps2-an386", tmp_path / "build")
    subprocess.run(["make", "-j2", "KERNELS=portable"], cwd=build.src_dir, check=True, capture_output=True)
    shutil.copy(build.src_dir / "firmware.elf", build.elf)
    batch = random_inputs(graph, 3, seed=9)
    status, outputs = _run_check(build.out_dir, batch, tmp_path)
    assert status == 0 and np.array_equal(outputs, run(graph, batch))


def test_inputs_of_the_wrong_shape_are_refused(tmp_path, capsys):
    build = tmp_path / "build"
    build.mkdir()
    (build / "report.json").write_text(json.dumps({
        "board": "mps2-an386", "model": "m", "kernels": "simd",
        "input": {"shape": [1, 4, 4, 3], "scale": 0.1, "zero_point": 0},
        "output": {"shape": [1, 2], "scale": 0.1, "zero_point": 0}}))
    status, _ = _run_check(build, np.zeros((2, 4, 3), np.int8), tmp_path)
    err = capsys.readouterr().err
    assert status == 1 and "(2, 4, 3)" in err and "(N, 4, 4, 3)" in err


@pytest.mark.skipif(shutil.which("renode") is not None, reason="renode is installed: the real run is tested")
def test_missing_renode_is_a_clear_error(qemu_arm, tmp_path, capsys):
    graph = tiny_graph(seed=8)
    build = build_graph(graph, "mps2-an386", tmp_path / "build")
    status, _ = _run_check(build.out_dir, random_inputs(graph, 1), tmp_path, "--emulator", "renode")
    err = capsys.readouterr().err
    assert status == 1 and "renode is not installed" in err and "--emulator qemu" in err


def test_a_build_for_a_board_file_outside_boards_runs_and_profiles(qemu_arm, tmp_path, repo_root):
    # A user's own board file: the build records its description, so run and profile need no
    # bundled board of that name.
    text = (repo_root / "boards" / "mps2-an386.yaml").read_text().replace("name: mps2-an386", "name: my-an386")
    assert "name: my-an386" in text
    board_file = tmp_path / "my-an386.yaml"
    board_file.write_text(text)
    graph = tiny_graph(seed=4)
    model = tmp_path / "tiny.tflite"
    model.write_bytes(export_tflite(graph))
    out = tmp_path / "build"
    assert main(["build", str(model), "--board", str(board_file), "--out", str(out)]) == 0
    board_file.unlink()   # gone after the build: the report alone must do
    batch = random_inputs(graph, 3, seed=5)
    status, outputs = _run_check(out, batch, tmp_path)
    assert status == 0 and np.array_equal(outputs, run(graph, batch))
    assert main(["profile", str(out)]) == 0
    profile = json.loads((out / "profile.json").read_text())
    assert profile["board"] == "my-an386" and profile["cycles"] > 0
