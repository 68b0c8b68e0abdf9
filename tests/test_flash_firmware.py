"""edge_deploy.flash: finding the ELF, checking it against the board, choosing the tool, the CLI's
errors. Real ELFs from arm-none-eabi-gcc, real pyOCD and openocd where installed; no probe is
attached here, so flashing itself is exercised up to "no probe" (see test_flash_hardware.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_deploy.boards import board_names, load_board
from edge_deploy.cli import main
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash import FIRMWARE_ELF_NAME, choose_tool, flash_firmware, inspect_firmware, resolve_elf

FIRMWARE_C = """
volatile int counter = 5;             /* initialised data: stored in flash, copied to RAM */
const char banner[] = "edge-deploy flash test";
void Reset_Handler(void) { for (;;) { counter += banner[counter & 7]; } }
__attribute__((section(".vectors"))) const void *const vectors[2] = { (void *)0x20001000, (void *)Reset_Handler };
"""

LINKER_SCRIPT = """
MEMORY {{ FLASH (rx) : ORIGIN = {flash:#x}, LENGTH = {flash_size:#x}
         RAM (rwx) : ORIGIN = {ram:#x}, LENGTH = {ram_size:#x} }}
ENTRY(Reset_Handler)
SECTIONS {{
  .text : {{ KEEP(*(.vectors)) *(.text*) *(.rodata*) }} > FLASH
  .data : {{ *(.data*) }} > RAM AT > FLASH
  .bss : {{ *(.bss*) *(COMMON) }} > RAM
}}
"""


def build_elf(arm_gcc: str, board_name: str, out: Path) -> Path:
    """Link a tiny firmware for ``board_name``'s memory map with the real Arm toolchain."""
    board = load_board(board_name)
    out.mkdir(parents=True, exist_ok=True)
    source, script, elf = out / "fw.c", out / "fw.ld", out / FIRMWARE_ELF_NAME
    source.write_text(FIRMWARE_C)
    flash, ram = board.memory.flash, board.memory.ram
    script.write_text(LINKER_SCRIPT.format(flash=flash.origin, flash_size=flash.size, ram=ram.origin, ram_size=ram.size))
    subprocess.run(
        [arm_gcc, "-mcpu=cortex-m4", "-mthumb", "-O1", "-nostdlib", "-T", str(script), "-o", str(elf), str(source)],
        check=True,
        capture_output=True,
    )
    return elf


def attached_probes() -> tuple[str, ...]:
    """Unique IDs of the debug probes pyOCD sees (none on a machine without boards)."""
    from edge_deploy.flash.pyocd_flasher import pyocd_installed, scan_probes

    return tuple(probe.unique_id for probe in scan_probes().probes) if pyocd_installed() else ()


@pytest.fixture(scope="module")
def no_probe() -> None:
    """Skip tests that expect "no probe" (and must never flash a board by accident) when one is attached."""
    if attached_probes():
        pytest.skip("a debug probe is attached; test_flash_hardware.py flashes it on request")


@pytest.fixture(scope="module")
def nucleo_build(arm_gcc: str, tmp_path_factory) -> Path:
    """A build directory holding a firmware.elf linked for nucleo-f446re."""
    out = tmp_path_factory.mktemp("nucleo-build")
    build_elf(arm_gcc, "nucleo-f446re", out)
    return out


def test_resolve_elf_takes_a_build_directory_or_an_elf(nucleo_build: Path) -> None:
    assert resolve_elf(nucleo_build) == nucleo_build / FIRMWARE_ELF_NAME
    assert resolve_elf(nucleo_build / FIRMWARE_ELF_NAME) == nucleo_build / FIRMWARE_ELF_NAME


def test_resolve_elf_missing(tmp_path: Path) -> None:
    with pytest.raises(EdgeDeployError, match=f"no {FIRMWARE_ELF_NAME} in") as caught:
        resolve_elf(tmp_path)
    assert "edge-deploy build" in caught.value.hint
    with pytest.raises(EdgeDeployError, match="does not exist"):
        resolve_elf(tmp_path / "nothing.elf")


def test_inspect_firmware_spans_what_objcopy_writes(nucleo_build: Path, arm_gcc: str) -> None:
    """The flash span read from the load segments (.data included by its load address) equals the
    size of the raw image objcopy makes from the same ELF."""
    elf = nucleo_build / FIRMWARE_ELF_NAME
    image = inspect_firmware(elf, load_board("nucleo-f446re"))
    binary = nucleo_build / "fw.bin"
    objcopy = str(Path(arm_gcc).with_name("arm-none-eabi-objcopy"))
    subprocess.run([objcopy, "-O", "binary", str(elf), str(binary)], check=True)
    assert image.flash_start == 0x08000000
    assert image.flash_bytes == binary.stat().st_size
    # The initialised data (counter = 5) is in the image: the last word objcopy wrote.
    assert int.from_bytes(binary.read_bytes()[-4:], "little") == 5


def test_inspect_firmware_rejects_another_boards_elf(arm_gcc: str, tmp_path: Path) -> None:
    elf = build_elf(arm_gcc, "nrf52840-dk", tmp_path)  # flash at 0x0
    with pytest.raises(EdgeDeployError, match=r"outside the flash of board 'nucleo-f446re'") as caught:
        inspect_firmware(elf, load_board("nucleo-f446re"))
    assert "0x00000000" in caught.value.message
    assert "--board nucleo-f446re" in caught.value.hint


def test_inspect_firmware_rejects_files_that_are_not_arm_elf(tmp_path: Path) -> None:
    board = load_board("nucleo-f446re")
    text = tmp_path / "firmware.c"
    text.write_text(FIRMWARE_C)
    with pytest.raises(EdgeDeployError, match="is not an ELF file"):
        inspect_firmware(text, board)
    host_elf = Path(os.path.realpath(sys.executable))  # a real x86-64 ELF
    with pytest.raises(EdgeDeployError, match="not 32-bit Arm firmware"):
        inspect_firmware(host_elf, board)


def test_board_without_flashing_method() -> None:
    with pytest.raises(EdgeDeployError, match="'mps2-an386' has no flashing method") as caught:
        choose_tool(load_board("mps2-an386"))
    assert "--emulator" in caught.value.hint


def test_every_bundled_board_either_flashes_or_says_why() -> None:
    """Boards naming a tool get one (or an error naming the tool's problem); the others the
    no-flashing-method error. Nothing else escapes."""
    for name in board_names():
        board = load_board(name)
        try:
            tool = choose_tool(board)
        except EdgeDeployError as exc:
            assert exc.hint, name
            if not board.flashers:
                assert "no flashing method" in exc.message
            continue
        assert tool in board.flashers, name


def test_tool_not_named_by_board() -> None:
    with pytest.raises(EdgeDeployError, match="names no pyOCD target") as caught:
        choose_tool(load_board("netduinoplus2"), "pyocd")
    assert caught.value.hint == "use --tool openocd"


def test_openocd_missing_from_path(nucleo_build: Path, monkeypatch, tmp_path: Path) -> None:
    """openocd really absent (PATH without it): the error names the install command."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EdgeDeployError, match="openocd is not installed") as caught:
        flash_firmware(nucleo_build, "netduinoplus2", tool="openocd", interface="interface/stlink.cfg")
    assert "apt-get install openocd" in caught.value.hint


# -- the command line: exit 1, "error:" and "hint:", never a traceback --------------------------


def _run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["flash", *args])
    return code, capsys.readouterr().err


def test_cli_missing_elf(capsys, tmp_path: Path) -> None:
    code, err = _run_cli(capsys, str(tmp_path), "--board", "nucleo-f446re")
    assert code == 1
    assert err.startswith(f"error: no {FIRMWARE_ELF_NAME} in {tmp_path}")
    assert "\nhint: " in err


def test_cli_board_without_flashing(capsys, nucleo_build: Path) -> None:
    code, err = _run_cli(capsys, str(nucleo_build), "--board", "mps2-an386")
    assert code == 1
    assert "error: board 'mps2-an386' has no flashing method" in err


def test_cli_unknown_board(capsys, nucleo_build: Path) -> None:
    code, err = _run_cli(capsys, str(nucleo_build), "--board", "no-such-board")
    assert code == 1
    assert "unknown board 'no-such-board'" in err and "nucleo-f446re" in err


def test_cli_interface_with_pyocd(capsys, nucleo_build: Path) -> None:
    code, err = _run_cli(capsys, str(nucleo_build), "--board", "nucleo-f446re", "--tool", "pyocd", "--interface", "interface/stlink.cfg")
    assert code == 1
    assert "--interface is an openocd option" in err


def test_cli_openocd_not_installed_subprocess(nucleo_build: Path, tmp_path: Path) -> None:
    """The real console entry point with openocd off PATH: exit 1, two lines, no traceback."""
    env = {**os.environ, "PATH": str(tmp_path)}
    finished = subprocess.run(
        [sys.executable, "-m", "edge_deploy", "flash", str(nucleo_build), "--board", "netduinoplus2",
         "--interface", "interface/stlink.cfg"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert finished.stderr.splitlines() == [
        "error: openocd is not installed (not found on PATH)",
        "hint: install openocd (apt-get install openocd) or flash with pyOCD (--tool pyocd, pip install pyocd)",
    ]


def test_edge_deploy_help_lists_flash() -> None:
    assert shutil.which("edge-deploy") is not None
    finished = subprocess.run(["edge-deploy", "--help"], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0
    assert any(line.split()[:1] == ["flash"] for line in finished.stdout.splitlines())
