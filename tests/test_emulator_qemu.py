"""QEMU runner: command line, start failures, and no orphan QEMU after errors, timeouts,
Ctrl-C or the death of the Python process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from firmware_builds import session_firmware

from edge_deploy.boards import load_board
from edge_deploy.emulators import default_emulator, qemu_command, start_emulator, start_qemu
from edge_deploy.emulators.qemu import find_qemu
from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import DeviceClient

pytestmark = pytest.mark.qemu


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    return True   # exited, waiting to be reaped by its (dead) parent's reaper
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_command_line_is_deterministic_and_complete():
    command = qemu_command(load_board("mps2-an386"), "/tmp/fw.elf", 4321, extra_args=["-plugin", "x.so"])
    assert command[:3] == ["qemu-system-arm", "-M", "mps2-an386"]
    joined = " ".join(command)
    for part in ("-icount shift=0", "-nographic", "-monitor none", "-semihosting-config enable=on,target=native",
                 "-serial tcp:127.0.0.1:4321,server=on,wait=off", "-kernel /tmp/fw.elf"):
        assert part in joined
    assert command[-2:] == ["-plugin", "x.so"]


def test_board_without_qemu_machine_is_refused(tmp_path):
    with pytest.raises(EdgeDeployError, match="cannot run in QEMU"):
        qemu_command(load_board("nucleo-f446re"), "fw.elf", 1)
    with pytest.raises(EdgeDeployError, match="hardware only"):
        default_emulator("nucleo-f446re")


def test_missing_qemu_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EdgeDeployError, match="qemu-system-arm is not installed"):
        find_qemu()


def test_qemu_that_cannot_start_reports_its_output(tmp_path_factory, qemu_arm):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    with pytest.raises(EdgeDeployError, match="did not start") as info:
        with start_qemu("mps2-an386", build.elf, extra_args=["-no-such-option"]):
            pass
    assert "no-such-option" in info.value.message


def test_emulator_is_gone_after_an_error_in_the_block(tmp_path_factory, qemu_arm):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    with pytest.raises(RuntimeError, match="test failure"):
        with start_emulator("mps2-an386", build.elf) as target:
            pid = target.pid
            assert target.running()
            raise RuntimeError("test failure inside the block")
    assert _gone(pid)


def test_emulator_is_gone_after_a_link_timeout(tmp_path_factory, qemu_arm):
    # A RUN of the 10000-byte test model cannot answer within 1 ms: the request times out.
    build = session_firmware(tmp_path_factory, "mps2-an386", "add_one")
    with pytest.raises(EdgeDeployError, match="no reply"):
        with start_qemu("mps2-an386", build.elf) as target:
            pid = target.pid
            with DeviceClient(target.url, retries=0) as device:
                device.model_info()
                device.run(timeout=0.001)
    assert _gone(pid)


def _child_script(elf) -> str:
    return textwrap.dedent(f"""
        import signal, sys, time
        # Ctrl-C raises KeyboardInterrupt as in a terminal, also when this test runs in a background
        # job (whose children start with SIGINT ignored, which Python then keeps).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from edge_deploy.emulators import start_qemu
        with start_qemu("mps2-an386", {str(elf)!r}) as target:
            print(target.pid, flush=True)
            time.sleep(60)
    """)


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill"])
def test_emulator_dies_with_its_python_process(tmp_path_factory, qemu_arm, how):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    child = subprocess.Popen([sys.executable, "-c", _child_script(build.elf)], stdout=subprocess.PIPE, text=True)
    try:
        qemu_pid = int(child.stdout.readline())
        assert not _gone(qemu_pid, within=0.2)
        if how == "ctrl-c":
            child.send_signal(signal.SIGINT)       # KeyboardInterrupt unwinds the with-block
        else:
            child.kill()                          # no Python cleanup: PR_SET_PDEATHSIG must act
        child.wait(10)
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its parent ({how})"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_no_qemu_left_from_this_process(tmp_path_factory, qemu_arm):
    # Every QEMU this test process started has been stopped by now (children are direct).
    mine = subprocess.run(["pgrep", "-P", str(os.getpid()), "qemu-system-arm"], capture_output=True, text=True)
    assert mine.stdout.strip() == ""
