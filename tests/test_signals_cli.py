"""SIGTERM and SIGKILL against real edge-deploy processes: nothing may be left behind.

SIGTERM is handled like Ctrl-C: ``run`` stops QEMU and removes its log folder, ``build`` removes
its hidden ``.OUT.*`` folder. SIGKILL cannot be handled, so what it leaves is removed by the next
run once the owner is gone (and only then: a folder whose owner still runs is kept).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from firmware_builds import session_firmware

from edge_deploy.fsutil import atomic_output_dir

FIXTURE = Path(__file__).resolve().parent / "data" / "tflite" / "depthwise.tflite"


def _start(args: list[str], tmpdir: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen([sys.executable, "-m", "edge_deploy", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(folder: Path, pattern: str, process: subprocess.Popen, timeout: float = 60.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(folder.glob(pattern))
        if found:
            return found
        assert process.poll() is None, f"the command ended first: {process.communicate()}"
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} in {folder} within {timeout} s")


def _qemu_running(elf: Path) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if cmdline[0].endswith(b"qemu-system-arm") and str(elf).encode() in cmdline and state != "Z":
            return True
    return False


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory, qemu_arm) -> Path:
    """A folder ``edge-deploy run`` takes: the runtime with the add-one fixture model (1,000 bytes
    in, 16 out) as firmware.elf, and its report.json."""
    import json
    import shutil

    out = tmp_path_factory.mktemp("signals") / "build"
    out.mkdir()
    shutil.copy(session_firmware(tmp_path_factory, "mps2-an386", "add_one_small").elf, out / "firmware.elf")
    (out / "report.json").write_text(json.dumps({
        "board": "mps2-an386", "model": "test-add-one", "kernels": "simd",
        "input": {"shape": [1, 1000], "scale": 1.0, "zero_point": 0},
        "output": {"shape": [1, 16], "scale": 1.0, "zero_point": 0}}))
    return out


@pytest.fixture
def many_inputs(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(-128, 128, (20_000, 1000)).astype(np.int8))
    return path


def test_sigterm_during_run_stops_qemu_and_leaves_nothing(build_dir, many_inputs, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "y.npy"
    run = _start(["run", str(build_dir), "--inputs", str(many_inputs), "--out", str(out)], tmpdir)
    _wait_for(tmpdir, "edge-deploy-emu-*", run)
    time.sleep(0.5)   # QEMU up, inputs on the way
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 143 and err.strip().endswith("terminated"), err
    assert list(tmpdir.iterdir()) == []                      # the QEMU log folder is gone
    assert not out.exists() and not list(tmp_path.glob(".y.npy.*"))
    assert not _qemu_running(build_dir / "firmware.elf")


def test_sigterm_during_build_leaves_no_hidden_folder(tmp_path):
    out = tmp_path / "OUT"
    build = _start(["build", str(FIXTURE), "--board", "mps2-an386", "--out", str(out)], tmp_path)
    _wait_for(tmp_path, ".OUT.*", build)
    build.send_signal(signal.SIGTERM)
    _, err = build.communicate(timeout=60)
    assert build.returncode == 143 and "terminated" in err, err
    assert not out.exists() and not list(tmp_path.glob(".OUT*"))


def test_after_sigkill_the_next_run_removes_what_was_left(build_dir, many_inputs, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    run = _start(["run", str(build_dir), "--inputs", str(many_inputs), "--out", str(tmp_path / "y.npy")], tmpdir)
    left = _wait_for(tmpdir, "edge-deploy-emu-*", run)
    run.kill()
    run.communicate()
    assert all(path.exists() for path in left)               # SIGKILL: nobody could clean up
    one = tmp_path / "one.npy"
    np.save(one, np.zeros((1, 1000), np.int8))
    again = _start(["run", str(build_dir), "--inputs", str(one), "--out", str(tmp_path / "y1.npy")], tmpdir)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert list(tmpdir.iterdir()) == []                      # the orphan went with the next run


def test_a_stale_output_folder_goes_only_once_its_owner_is_gone(tmp_path):
    # Two processes each make a hidden .OUT.* folder as build does; one is killed outright.
    script = ("import sys, time; from edge_deploy.fsutil import owned_temp_dir; "
              "print(owned_temp_dir('.OUT.', sys.argv[1]), flush=True); time.sleep(60)")
    owners = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    try:
        dead, alive = (Path(owner.stdout.readline().strip()) for owner in owners)
        owners[0].kill()
        owners[0].wait()
        with atomic_output_dir(tmp_path / "OUT") as tmp:
            (tmp / "report.json").write_text("{}")
        assert not dead.exists() and alive.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["OUT", alive.name])
    finally:
        for owner in owners:
            owner.kill()
            owner.wait()
