"""openocd: the command line built for each board, and real openocd runs that reach "no probe"
(which proves openocd found every config file the command names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from edge_deploy.boards import boards_dir, list_boards, load_board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash import flash_firmware, openocd_command
from edge_deploy.flash.openocd_flasher import needs_interface
from test_flash_firmware import build_elf, no_probe  # noqa: F401 (fixture)

ELF = "/builds/my model/firmware.elf"
PROGRAM = "program {/builds/my model/firmware.elf} verify reset exit"


@pytest.fixture(scope="module")
def openocd() -> str:
    path = shutil.which("openocd")
    if path is None:
        pytest.skip("openocd is not installed (apt-get install openocd)")
    return path


def test_command_for_board_configs() -> None:
    """Boards whose config picks the probe itself: one -f, the program command, nothing else."""
    assert openocd_command(ELF, load_board("nucleo-f446re")) == ["openocd", "-f", "board/st_nucleo_f4.cfg", "-c", PROGRAM]
    assert openocd_command(ELF, load_board("stm32f4-discovery"), probe_id="066DFF49") == [
        "openocd", "-f", "board/stm32f4discovery.cfg", "-c", "adapter serial {066DFF49}", "-c", PROGRAM,
    ]


def test_command_for_chip_only_configs() -> None:
    """target/ configs need the probe's config first; SWD is selected except for ST-LINK (hla)."""
    netduino, nrf = load_board("netduinoplus2"), load_board("nrf52840-dk")
    assert openocd_command(ELF, netduino, interface="interface/stlink.cfg") == [
        "openocd", "-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg", "-c", PROGRAM,
    ]
    assert openocd_command(ELF, nrf, interface="interface/jlink.cfg", probe_id="683", executable="/opt/openocd") == [
        "/opt/openocd", "-f", "interface/jlink.cfg", "-c", "transport select swd", "-f", "target/nrf52.cfg",
        "-c", "adapter serial {683}", "-c", PROGRAM,
    ]


def test_command_errors() -> None:
    with pytest.raises(EdgeDeployError, match="describes only the chip") as caught:
        openocd_command(ELF, load_board("nrf52840-dk"))
    assert "interface/jlink.cfg" in caught.value.hint
    with pytest.raises(EdgeDeployError, match="already selects the debug probe"):
        openocd_command(ELF, load_board("nucleo-f446re"), interface="interface/stlink.cfg")
    with pytest.raises(EdgeDeployError, match="names no openocd config"):
        openocd_command(ELF, load_board("mps2-an386"))
    with pytest.raises(EdgeDeployError, match="contains a brace"):
        openocd_command("/tmp/a}b.elf", load_board("nucleo-f446re"))


def _openocd_cases() -> list[tuple[str, str | None]]:
    """(board, --interface): once per board whose config picks its probe, once per common probe
    for boards whose config names only the chip."""
    cases = []
    for board in list_boards():
        config = board.flashing.openocd_config
        if config is None:
            continue
        interfaces = ["interface/stlink.cfg", "interface/jlink.cfg", "interface/cmsis-dap.cfg"] if needs_interface(config) else [None]
        cases += [(board.name, interface) for interface in interfaces]
    return cases


@pytest.mark.parametrize(("board_name", "interface"), _openocd_cases())
def test_real_openocd_reaches_no_probe(board_name: str, interface: str | None, openocd: str, arm_gcc: str, tmp_path: Path, no_probe) -> None:
    """openocd loads every config the command names and stops at finding no probe; our error says so."""
    build_elf(arm_gcc, board_name, tmp_path)
    with pytest.raises(EdgeDeployError, match=f"openocd found no debug probe to flash board '{board_name}'") as caught:
        flash_firmware(tmp_path, board_name, tool="openocd", interface=interface)
    assert "openocd said: Error:" in caught.value.message
    assert "pyocd list" in caught.value.hint


def test_real_openocd_missing_config(openocd: str, arm_gcc: str, tmp_path: Path) -> None:
    """A board file naming a config openocd does not have: the error names the config."""
    raw = yaml.safe_load((boards_dir() / "nucleo-f446re.yaml").read_text())
    raw["name"] = "my-nucleo"
    raw["flashing"] = {"openocd_config": "board/no_such_board.cfg"}
    board_file = tmp_path / "my-nucleo.yaml"
    board_file.write_text(yaml.safe_dump(raw))
    build_elf(arm_gcc, "nucleo-f446re", tmp_path / "build")
    with pytest.raises(EdgeDeployError, match=r"openocd has no config board/no_such_board\.cfg \(board 'my-nucleo'\)"):
        flash_firmware(tmp_path / "build", board_file)
