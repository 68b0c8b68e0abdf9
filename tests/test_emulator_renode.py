"""Renode runner: the generated .resc script (checked everywhere), and a real run where Renode
is installed (skipped with the reason elsewhere)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from firmware_builds import session_firmware

from edge_deploy.boards import load_board
from edge_deploy.emulators import render_resc, renode_command, start_renode
from edge_deploy.errors import EdgeDeployError

RENODE_MISSING = shutil.which("renode") is None


@pytest.mark.parametrize(("board", "uart"), [("stm32f4-discovery", "sysbus.usart2"), ("nrf52840-dk", "sysbus.uart0")])
def test_resc_runs_the_elf_with_uart_socket_and_dwt(tmp_path, board, uart):
    spec = load_board(board)
    elf = tmp_path / "firmware.elf"
    script = render_resc(spec, elf, 34567)
    lines = script.splitlines()
    assert f"machine LoadPlatformDescription @{spec.emulation.renode_platform}" in lines
    dwt = next(line for line in lines if "Miscellaneous.DWT" in line)
    assert "@ sysbus 0xe0001000" in dwt and f"frequency: {spec.clock_hz}" in dwt
    assert 'emulation CreateServerSocketTerminal 34567 "console" false' in lines
    assert f"connector Connect {uart} console" in lines
    assert f"sysbus LoadELF @{elf.resolve()}" in lines
    # The machine exists before anything is loaded into it, and starts last.
    assert lines.index(f'mach create "{board}"') < lines.index(f"sysbus LoadELF @{elf.resolve()}")
    assert lines[-1] == "start" or lines[-2:] == ["start", ""] or script.rstrip().endswith("start")
    assert render_resc(spec, elf, 34567) == script   # deterministic


def test_boards_without_renode_are_refused():
    with pytest.raises(EdgeDeployError, match="cannot run in Renode"):
        render_resc(load_board("mps2-an386"), "fw.elf", 1)


def test_renode_command_is_headless():
    command = renode_command(Path("/tmp/x.resc"), 5555)
    assert "--disable-xwt" in command and command[-1] == "/tmp/x.resc"
    assert command[command.index("--port") + 1] == "5555"


@pytest.mark.skipif(not RENODE_MISSING, reason="renode is installed: the missing-renode error cannot happen")
def test_missing_renode_is_a_clear_error(tmp_path_factory, arm_gcc):
    build = session_firmware(tmp_path_factory, "stm32f4-discovery")
    with pytest.raises(EdgeDeployError, match="renode is not installed") as info:
        with start_renode("stm32f4-discovery", build.elf):
            pass
    assert "--emulator qemu" in info.value.hint


@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason="renode is not installed (no package registry reachable here carries it)")
@pytest.mark.parametrize("board", ["stm32f4-discovery", "nrf52840-dk"])
def test_selftest_in_renode(tmp_path, board):
    from edge_deploy.selftest import run_selftest

    report = run_selftest(board, emulator="renode", out_dir=tmp_path)
    assert report.passed, report.format()
    assert any("dwt" in check.detail for check in report.checks if check.name == "cycle counter")
