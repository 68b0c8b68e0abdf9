"""The CLI's contract for user errors: one clear line, exit 1, no traceback (unless --verbose)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.cli import COMMANDS, main


def _edge_deploy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_answers_help(name):
    result = _edge_deploy(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: edge-deploy {name}" in result.stdout


def test_an_unwritable_out_folder_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _edge_deploy("selftest", "--board", "mps2-an386", "--out", str(blocker / "sub"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and str(blocker) in first and "Not a directory" in first


def test_verbose_shows_the_traceback_of_a_user_error():
    quiet = _edge_deploy("selftest", "--board", "no-such-board")
    loud = _edge_deploy("--verbose", "selftest", "--board", "no-such-board")
    assert quiet.returncode != 0 and "Traceback" not in quiet.stderr
    assert quiet.stderr.startswith("error: ") and "no-such-board" in quiet.stderr
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_a_value_that_looks_like_the_verbose_flag_does_not_turn_it_on(tmp_path):
    # "-v" after the subcommand belongs to the subcommand (here: an unknown option), not to the group.
    result = _edge_deploy("boards", "-v")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "No such option" in result.stderr


# -- bad input, refused cleanly (issue 17) -------------------------------------------------------

FIXTURE = Path(__file__).resolve().parent / "data" / "tflite" / "depthwise.tflite"   # input (1, 12, 12, 4)


def _fake_build(tmp_path: Path) -> Path:
    """A build folder with a report.json and no firmware: anything that reaches the emulator
    fails on the missing firmware, so a batch error shows the batch was checked first."""
    build = tmp_path / "build"
    build.mkdir()
    (build / "report.json").write_text(json.dumps({
        "board": "mps2-an386", "model": "m", "kernels": "simd",
        "input": {"shape": [1, 12, 12, 4], "scale": 0.05, "zero_point": 0},
        "output": {"shape": [1, 2], "scale": 0.1, "zero_point": 0}}))
    return build


def _batches(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.npy" for name in ("nan", "empty", "zero_bytes")}
    x = np.random.default_rng(0).random((4, 12, 12, 4)).astype(np.float32)
    x[2, 3, 1, 0] = np.nan
    np.save(paths["nan"], x)
    np.save(paths["empty"], np.zeros((0, 12, 12, 4), np.float32))
    paths["zero_bytes"].write_bytes(b"")
    return paths


@pytest.mark.parametrize(("batch", "words"), [
    ("nan", "the first is nan in sample 2"),
    ("empty", "hold no sample"),
    ("zero_bytes", "the file is empty or cut short"),   # was "aborted", exit 130
])
@pytest.mark.parametrize("command", ["infer", "run"])
def test_bad_batches_are_refused_before_anything_starts(tmp_path, capsys, monkeypatch, batch, words, command):
    monkeypatch.setenv("TMPDIR", str(tmp_path))   # an emulator started would leave its log folder here
    tempfile.tempdir = None
    path = _batches(tmp_path)[batch]
    target = str(FIXTURE) if command == "infer" else str(_fake_build(tmp_path))
    try:
        status = main([command, target, "--inputs", str(path), "--out", str(tmp_path / "y.npy")])
    finally:
        tempfile.tempdir = None
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: ") and words in err, err
    assert "aborted" not in err and "Traceback" not in err
    assert not (tmp_path / "y.npy").exists() and not list(tmp_path.glob("edge-deploy-*"))


def test_quantize_refuses_an_empty_or_nan_calibration_batch(tmp_path, capsys):
    import torch

    from edge_deploy.models import build_model
    from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint

    params = {"channels": [4, 8, 8, 8, 8], "fc_units": 16}
    save_checkpoint(tmp_path / "model.pt", Checkpoint(
        arch={"name": "ticnn", "params": params}, members=[build_model("ticnn", **params).eval()],
        input={"channels": 1, "length": 2048, "sample_rate_hz": 12000}, classes=[f"c{i}" for i in range(10)]))
    torch.set_num_threads(1)
    empty, nan = tmp_path / "empty.npy", tmp_path / "nan.npy"
    np.save(empty, np.zeros((0, 1, 2048), np.float32))
    x = np.zeros((3, 1, 2048), np.float32)
    x[1, 0, 7] = np.inf
    np.save(nan, x)
    for calib, words in ((empty, "calibration batch hold no sample"), (nan, "the first is inf in sample 1")):
        status = main(["quantize", str(tmp_path / "model.pt"), "--calib", str(calib),
                       "--out", str(tmp_path / "m.tflite")])
        err = capsys.readouterr().err
        assert status == 1 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_run_timeout_is_checked_when_the_command_line_is_parsed(tmp_path, capsys, value):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 12, 12, 4), np.int8))
    status = main(["run", str(_fake_build(tmp_path)), "--inputs", str(x), "--out", str(tmp_path / "y.npy"),
                   "--timeout", value])
    err = capsys.readouterr().err
    assert status == 2 and "Invalid value for '--timeout'" in err and "above 0" in err


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs Linux's /sys, where no file can be created")
@pytest.mark.parametrize("command", ["infer", "build"])
def test_an_unwritable_out_names_the_path_given_not_a_hidden_temporary(tmp_path, capsys, command):
    # /sys refuses new files even to root: a real, always read-only place.
    out = "/sys/edge-deploy-out" + (".npy" if command == "infer" else "")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 12, 12, 4), np.int8))
    args = (["infer", str(FIXTURE), "--inputs", str(x), "--out", out] if command == "infer"
            else ["build", str(FIXTURE), "--board", "mps2-an386", "--out", out])
    status = main(args)
    first = capsys.readouterr().err.splitlines()[0]
    assert status == 1 and first in (f"error: {out}: Permission denied", f"error: {out}: Operation not permitted")
