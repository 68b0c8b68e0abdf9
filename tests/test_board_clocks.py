"""Full-clock boards: the clock: and flash: blocks of the board files, the runtime that applies
them, and firmware for QEMU boards that still boots where the emulator has no RCC."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from edge_deploy.boards import boards_dir, load_board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.toolchain import compile_runtime, render_board_header

STM32_FULL_CLOCK = {"stm32f4-discovery": 168_000_000, "nucleo-f446re": 180_000_000, "nucleo-l4r5zi": 120_000_000}


def _variant(tmp_path: Path, base: str, name: str, edit) -> Path:
    raw = yaml.safe_load((boards_dir() / f"{base}.yaml").read_text())
    raw["name"] = name
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("name", list(STM32_FULL_CLOCK))
def test_stm32_boards_run_at_full_clock_from_their_pll(name):
    board = load_board(name)
    assert board.full_clock and board.clock_hz == STM32_FULL_CLOCK[name] == board.clock.full_hz
    assert board.flash.wait_states == 5 and board.flash.wait_states >= board.flash.minimum_wait_states(board.clock_hz)
    art = board.flash.accelerator
    assert art.prefetch and art.icache.lines * art.icache.line_bytes == 1024 and art.dcache.lines == 8
    header = render_board_header(board)
    assert f"#define ED_CLOCK_HZ {board.clock_hz}u" in header and "#define ED_CLOCK_START_PLL 1" in header
    assert "#define ED_FLASH_WAIT_STATES 5u" in header


def test_l4r5_facts():
    board = load_board("nucleo-l4r5zi")
    assert board.memory.flash.size == 2 * 1024 * 1024 and board.memory.ram.size == 640 * 1024
    assert board.console.kind == "stm32-lpuart" and board.console.base == 0x40008000
    assert board.uart_clock_hz == 120_000_000 and board.flashing.pyocd_target == "stm32l4r5zitx"
    assert board.flash.read_bytes == 8 and board.flash.accelerator.icache.line_bytes == 32
    header = render_board_header(board)
    assert "#define ED_CLOCK_PLL_R 2u" in header and "#define ED_CLOCK_RESET_HZ 4000000u" in header


def test_apb_dividers_set_the_uart_clock():
    assert load_board("stm32f4-discovery").uart_clock_hz == 42_000_000      # APB1 = 168 / 4
    assert load_board("nucleo-f446re").uart_clock_hz == 45_000_000          # APB1 = 180 / 4
    assert "#define ED_CLOCK_PPRE1 5u" in render_board_header(load_board("nucleo-f446re"))   # /4


def test_reset_clock_stays_available(tmp_path):
    def at_reset(raw):
        raw["clock_hz"] = raw["clock"]["reset_hz"]
        raw["flash"]["wait_states"] = 0
    board = load_board(_variant(tmp_path, "nucleo-l4r5zi", "l4r5-reset", at_reset))
    assert not board.full_clock and board.clock_hz == 4_000_000 and board.uart_clock_hz == 4_000_000
    header = render_board_header(board)
    assert "#define ED_CLOCK_START_PLL 0" in header and "#define ED_FLASH_WAIT_STATES 0u" in header


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.update(clock_hz=100_000_000), "neither the PLL's output"),
        (lambda raw: raw["console"].pop("bus"), "console.bus"),
        (lambda raw: raw["flash"].update(wait_states=3), "too few at clock_hz"),
        (lambda raw: raw["flash"]["accelerator"]["dcache"].update(lines=6), "powers of two"),
        (lambda raw: raw["clock"]["pll"].pop("r"), "clock.pll.r"),
        (lambda raw: raw["flash"]["accelerator"]["icache"].update(line_bytes=4), "smaller than one flash read"),
    ],
)
def test_inconsistent_clock_or_flash_is_refused(tmp_path, edit, message):
    path = _variant(tmp_path, "nucleo-l4r5zi", "nucleo-l4r5zi", edit)
    with pytest.raises(EdgeDeployError, match=message):
        load_board(path)


@pytest.mark.parametrize("name", list(STM32_FULL_CLOCK))
def test_runtime_links_the_board_clock_driver(tmp_path, arm_gcc, name):
    build = compile_runtime(name, tmp_path / name)
    symbols = subprocess.run(["arm-none-eabi-nm", str(build.elf)], capture_output=True, text=True, check=True).stdout
    driver = load_board(name).clock.driver
    assert f"ed_clock_setup_{driver}" in symbols
    assert all(f"ed_clock_setup_{other}" not in symbols for other in ("stm32f4", "stm32l4plus") if other != driver)


def test_qemu_board_without_clock_block_boots_at_its_emulated_clock(tmp_path, qemu_arm):
    from edge_deploy.emulators import start_emulator
    from edge_deploy.link import DeviceClient

    build = compile_runtime("netduinoplus2", tmp_path / "fw")
    with start_emulator(build.board, build.elf) as target, DeviceClient(target.url) as device:
        info = device.info()
    assert info.clock_hz == 168_000_000 and info.fields["clock"] == "reset"


def test_pll_that_never_locks_falls_back_to_the_reset_clock(tmp_path, qemu_arm):
    """QEMU's STM32F405 leaves RCC and the flash interface unimplemented: a ready flag never
    comes. The bounded waits give up, the firmware boots on the reset clock and says so."""
    from edge_deploy.emulators import start_emulator
    from edge_deploy.link import DeviceClient

    def with_pll(raw):
        raw["clock"] = {"driver": "stm32f4", "reset_hz": 16_000_000, "source_hz": 16_000_000,
                        "pll": {"m": 8, "n": 168, "p": 2, "q": 7}, "apb1_divider": 4, "apb2_divider": 2}
        raw["console"].pop("clock_hz")
        raw["console"]["bus"] = "apb2"
    board = load_board(_variant(tmp_path, "netduinoplus2", "netduino-pll", with_pll))
    assert board.full_clock
    build = compile_runtime(board, tmp_path / "fw")
    with start_emulator(board, build.elf) as target, DeviceClient(target.url) as device:
        info = device.info()
        assert device.echo(b"clock") == b"clock"
    assert info.fields["clock"] == "timeout" and info.clock_hz == 16_000_000 == info.cycle_hz


@pytest.mark.renode
@pytest.mark.skipif(shutil.which("renode") is None,
                    reason="renode is not installed (no package registry reachable here carries it)")
def test_stm32f4_discovery_reaches_full_clock_in_renode(tmp_path):
    """Renode models the STM32F4's RCC (HSIRDY, PLLRDY, SWS follow their enables) and the flash
    interface's LATENCY: the F4 driver's whole sequence runs and the firmware reports 168 MHz."""
    from edge_deploy.emulators import start_emulator
    from edge_deploy.link import DeviceClient

    build = compile_runtime("stm32f4-discovery", tmp_path / "fw")
    with start_emulator(build.board, build.elf, emulator="renode") as target, \
            DeviceClient(target.url, timeout=30) as device:
        info = device.info()
    assert info.fields["clock"] == "full" and info.clock_hz == 168_000_000 and info.cycle_source == "dwt"
