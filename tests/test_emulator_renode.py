"""Renode runner: the generated .resc script and hook scripts (checked everywhere), and real runs
where Renode is on PATH (skipped with the reason elsewhere): selftest on both Renode boards and
`run --check` of a TensorFlow-converted conv model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from firmware_builds import session_firmware

from edge_deploy.boards import load_board
from edge_deploy.emulators import render_resc, renode_command, start_renode
from edge_deploy.emulators.renode import exit_routine_address, exit_watch_script
from edge_deploy.errors import EdgeDeployError
from edge_deploy.elf import MarkerSymbols, Symbol, read_elf_symbols
from edge_deploy.profile.renode_counts import counter_script

RENODE_MISSING = shutil.which("renode") is None
NO_RENODE = "renode is not on PATH (no package registry carries it: docs/renode.md builds it locally)"


@pytest.mark.parametrize(("board", "uart"), [("stm32f4-discovery", "sysbus.usart2"), ("nrf52840-dk", "sysbus.uart0")])
def test_resc_runs_the_elf_with_uart_socket_and_dwt(tmp_path, board, uart):
    spec = load_board(board)
    elf = tmp_path / "firmware.elf"
    script = render_resc(spec, elf, 34567)
    lines = script.splitlines()
    # One platform description: the board's platform, a DWT at the board clock.
    start = lines.index('machine LoadPlatformDescriptionFromString """')
    description = lines[start + 1:lines.index('"""', start + 1)]
    assert description[0] == f'using "{spec.emulation.renode_platform}"'
    dwt = next(line for line in description if "Miscellaneous.DWT" in line)
    assert "@ sysbus 0xe0001000" in dwt and f"frequency: {spec.clock_hz}" in dwt
    assert 'emulation CreateServerSocketTerminal 34567 "console" false' in lines
    assert f"connector Connect {uart} console" in lines
    assert f"sysbus LoadELF @{elf.resolve()}" in lines
    # The machine exists before anything is loaded into it, and starts last.
    assert lines.index(f'mach create "{board}"') < start < lines.index(f"sysbus LoadELF @{elf.resolve()}")
    assert script.rstrip().endswith("start")
    assert render_resc(spec, elf, 34567) == script   # deterministic


def test_the_stm32_usart_model_gets_no_idle_line_timer(tmp_path):
    """Renode's STM32_UART arms a timer per received byte (quadratic in the frame size); the
    platform gives it no input clock, which turns the timer off, and quiets its log."""
    lines = render_resc(load_board("stm32f4-discovery"), tmp_path / "fw.elf", 1).splitlines()
    assert lines[lines.index("usart2:") + 1] == "    frequency: 0"
    assert "logLevel 3 sysbus.usart2" in lines
    nrf = render_resc(load_board("nrf52840-dk"), tmp_path / "fw.elf", 1)
    assert "frequency: 0" not in nrf and "logLevel" not in nrf


def test_resc_includes_hook_scripts_before_the_start(tmp_path):
    elf = tmp_path / "firmware.elf"
    scripts = [tmp_path / "exit_watch.py", tmp_path / "count.py"]
    lines = render_resc(load_board("nrf52840-dk"), elf, 1234, scripts=scripts).splitlines()
    includes = [line for line in lines if line.startswith("include @")]
    assert includes == [f"include @{path.resolve()}" for path in scripts]
    assert lines.index(f"sysbus LoadELF @{elf.resolve()}") < lines.index(includes[0]) < lines.index("start")


def test_hook_scripts_name_the_exit_routine_and_the_mark_pads(tmp_path_factory, arm_gcc):
    """The scripts Renode runs are Python that parses (IronPython 2.7 takes the same syntax), hook
    the firmware's own exit routine and split the counts at its mark pads."""
    build = session_firmware(tmp_path_factory, "stm32f4-discovery")
    symbols = read_elf_symbols(build.elf)
    exit_pc = exit_routine_address(build.elf)
    assert exit_pc == symbols.get("ed_semihost_exit").addr and exit_pc % 2 == 0
    watch = exit_watch_script(exit_pc, "/tmp/x/exit_status")
    compile(watch, "exit_watch.py", "exec")
    assert f"AddHook({exit_pc:#x}, _ed_on_exit)" in watch and "r'/tmp/x/exit_status'" in watch
    markers = MarkerSymbols(Symbol("ed_profile_mark_pads", 0x1200, 512, "object"))
    count = counter_script(markers, "/tmp/x/counts.txt")
    compile(count, "count.py", "exec")
    assert f"_ED_PADS_LO = {markers.pads.addr:#x}" in count and f"_ED_PADS_HI = {markers.pads.end:#x}" in count


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
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
@pytest.mark.parametrize("board", ["stm32f4-discovery", "nrf52840-dk"])
def test_selftest_in_renode(tmp_path, board):
    """Every check passes, the run ends at the exit routine with status 0, and the DWT is
    reported as Renode's virtual time."""
    from edge_deploy.selftest import run_selftest

    report = run_selftest(board, emulator="renode", out_dir=tmp_path)
    assert report.passed, report.format()
    checks = {check.name: check for check in report.checks}
    assert list(checks) == ["build", "device info", "echo", "corrupt frame", "garbage", "cycle counter", "exit"]
    assert "virtual time (not cycles)" in checks["cycle counter"].detail
    assert "status 0" in checks["exit"].detail and "ed_semihost_exit" in checks["exit"].detail


@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
def test_run_check_of_a_conv_model_in_renode(tmp_path, repo_root, arm_gcc):
    """A TensorFlow-converted conv model built for stm32f4-discovery gives the reference
    interpreter's outputs byte for byte in Renode (portable kernels: the SIMD ones select bytes
    by GE flags, which Renode 1.15 sets wrongly, edge_deploy.profile.renode_ge_flags); the
    device counter is labelled as Renode's virtual time."""
    import json
    import subprocess
    import sys

    import numpy as np

    from edge_deploy.cli import main
    from edge_deploy.profile.renode_ge_flags import ge_flags_warning

    build = tmp_path / "build"
    assert main(["build", str(repo_root / "tests" / "data" / "tflite" / "conv2d.tflite"), "--board",
                 "stm32f4-discovery", "--kernels", "portable", "--out", str(build)]) == 0
    assert ge_flags_warning(build / "firmware.elf") is None
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.random.default_rng(1).integers(-128, 128, (3, 16, 16, 3)).astype(np.int8))
    result = subprocess.run([sys.executable, "-m", "edge_deploy", "run", str(build), "--inputs", str(inputs),
                             "--out", str(tmp_path / "y.npy"), "--emulator", "renode", "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatches" in result.stdout and "Renode virtual time, not core cycles" in result.stdout
    assert json.loads((build / "check.json").read_text())["mismatches"] == 0
