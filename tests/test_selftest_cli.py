"""``edge-deploy selftest`` end to end: real build, real QEMU, the exit status and the time."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.qemu


def _edge_deploy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_selftest_on_mps2_an386_passes_in_under_10_s(qemu_arm, tmp_path):
    start = time.monotonic()
    result = _edge_deploy("selftest", "--board", "mps2-an386", "--json", "--out", str(tmp_path))
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["board"] == "mps2-an386" and report["target"] == "qemu"
    names = [check["name"] for check in report["checks"]]
    assert names == ["build", "device info", "echo", "corrupt frame", "garbage", "cycle counter", "exit"]
    assert elapsed < 10.0 * 2, f"selftest took {elapsed:.1f} s"   # 10 s goal, slack for a loaded CI box
    assert (tmp_path / "mps2-an386" / "firmware.elf").is_file()


def test_selftest_of_a_hardware_only_board_without_port_fails_cleanly():
    result = _edge_deploy("selftest", "--board", "nucleo-f446re")
    assert result.returncode == 1
    assert result.stderr.startswith("error: board 'nucleo-f446re' has no emulator")
    assert "Traceback" not in result.stderr


def test_selftest_against_a_port_with_nothing_behind_it_fails_cleanly():
    result = _edge_deploy("selftest", "--board", "stm32f4-discovery", "--port", "/dev/edge-deploy-missing")
    assert result.returncode == 1
    assert "cannot open serial port" in result.stderr and "Traceback" not in result.stderr


def test_selftest_help():
    result = _edge_deploy("selftest", "--help")
    assert result.returncode == 0 and "--emulator" in result.stdout and "--port" in result.stdout


def test_a_check_that_times_out_is_a_failed_check_not_a_traceback(qemu_arm, tmp_path, monkeypatch):
    """The exit check on a firmware that never ends the run (here: the EXIT request is never
    sent, so QEMU keeps running and the wait really times out) is reported as a failed check with
    its reason; every other check still runs and passes, and the report is complete."""
    from edge_deploy.link import DeviceClient
    from edge_deploy.selftest import run_selftest

    monkeypatch.setattr(DeviceClient, "exit", lambda self, code=0: None)
    monkeypatch.setattr("edge_deploy.selftest.EXIT_TIMEOUT_S", 1.0)
    report = run_selftest("mps2-an386", emulator="qemu", out_dir=tmp_path)
    *others, exit_check = report.checks
    assert not report.passed and all(check.passed for check in others)
    assert exit_check.name == "exit" and not exit_check.passed
    assert "did not end the run within 1 s" in exit_check.detail
    assert "selftest FAILED" in report.format()
