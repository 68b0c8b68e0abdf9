"""Board files: the five bundled boards load, and malformed files name the file and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_deploy.boards import board_names, boards_dir, list_boards, load_board
from edge_deploy.errors import EdgeDeployError

EXPECTED = {"mps2-an386", "netduinoplus2", "stm32f4-discovery", "nucleo-f446re", "nrf52840-dk"}


def test_the_five_boards_load_with_their_facts():
    boards = {board.name: board for board in list_boards()}
    assert EXPECTED <= set(boards)
    an386 = boards["mps2-an386"]
    assert (an386.memory.flash.origin, an386.memory.ram.origin) == (0x0, 0x20000000)
    assert an386.console.kind == "cmsdk-uart" and an386.console.base == 0x40004000
    assert an386.emulation.qemu_machine == "mps2-an386" and an386.has_fpu
    netduino = boards["netduinoplus2"]
    assert netduino.memory.flash.origin == 0x08000000
    assert netduino.console.kind == "stm32-usart" and netduino.console.base == 0x40011000
    discovery = boards["stm32f4-discovery"]
    assert discovery.emulation.renode_platform == "platforms/boards/stm32f4_discovery-kit.repl"
    assert discovery.flashing.pyocd_target == "stm32f407vgtx"
    assert boards["nucleo-f446re"].emulators == () and "pyocd" in boards["nucleo-f446re"].flashers
    nrf = boards["nrf52840-dk"]
    assert nrf.console.kind == "nrf-uarte" and "renode" in nrf.emulators


def test_sizes_with_suffixes_are_bytes():
    board = load_board("netduinoplus2")
    assert board.memory.flash.size == 1024 * 1024
    assert board.memory.ram.size == 128 * 1024
    assert board.stack_bytes == 8 * 1024


def test_load_by_path_equals_load_by_name():
    by_path = load_board(boards_dir() / "mps2-an386.yaml")
    assert by_path.model_dump() == load_board("mps2-an386").model_dump()


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(EdgeDeployError) as info:
        load_board("no-such-board")
    assert "no-such-board" in info.value.message
    assert "mps2-an386" in info.value.hint


def _broken_copy(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((boards_dir() / "mps2-an386.yaml").read_text())
    edit(raw)
    path = tmp_path / "mps2-an386.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda raw: raw.pop("clock_hz"), "clock_hz"),
        (lambda raw: raw["memory"].pop("ram"), "memory.ram"),
        (lambda raw: raw["memory"]["flash"].update(size="lots"), "memory.flash.size"),
        (lambda raw: raw["console"].update(kind="pl011"), "console.kind"),
        (lambda raw: raw["console"].update(base=-4), "console.base"),
        (lambda raw: raw.update(cpu="cortex-m0"), "cpu"),
        (lambda raw: raw.update(clock_mhz=25), "clock_mhz"),           # misspelt field
        (lambda raw: raw["emulation"].update(renode_platform="x.repl"), "emulation"),
        (lambda raw: raw.update(name="other-name"), "name"),
        (lambda raw: raw.update(stack_bytes="8M"), "stack_bytes"),    # bigger than the RAM
    ],
)
def test_malformed_board_names_file_and_field(tmp_path, edit, field):
    path = _broken_copy(tmp_path, edit)
    with pytest.raises(EdgeDeployError) as info:
        load_board(path)
    message = info.value.message
    assert str(path) in message
    assert f"'{field}'" in message or field in message


def test_overlapping_regions_are_rejected(tmp_path):
    path = _broken_copy(tmp_path, lambda raw: raw["memory"]["ram"].update(origin=0x100000))
    with pytest.raises(EdgeDeployError, match="overlap"):
        load_board(path)


def test_invalid_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(EdgeDeployError, match="not valid YAML"):
        load_board(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(EdgeDeployError, match="mapping"):
        load_board(bad)


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        # The firmware keeps clocks in 32 bits: 5 GHz used to validate and be reported as 705 MHz.
        (lambda raw: raw.update(clock_hz=5_000_000_000), "clock_hz", "32 bits"),
        (lambda raw: raw.update(max_clock_hz=2**32), "max_clock_hz", "32 bits"),
        (lambda raw: raw["console"].update(baud=10**12), "console.baud", "32 bits"),
        (lambda raw: raw["console"].update(clock_hz=0), "console.clock_hz", "above 0"),
        # 25 MHz cannot clock 4 Mbaud (a UART samples each bit at least 8 times).
        (lambda raw: raw["console"].update(baud=4_000_000), "console.baud", "clock / 8 = 3125000"),
    ],
)
def test_clock_and_baud_are_bounded(tmp_path, edit, field, words):
    path = _broken_copy(tmp_path, edit)
    with pytest.raises(EdgeDeployError) as info:
        load_board(path)
    assert field in info.value.message and words in info.value.message


def test_the_bounds_themselves_are_accepted(tmp_path):
    def edit(raw):
        raw.update(clock_hz=2**32 - 1)
        raw["console"].update(baud=(2**32 - 1) // 8)

    board = load_board(_broken_copy(tmp_path, edit))
    assert (board.clock_hz, board.console.baud) == (2**32 - 1, (2**32 - 1) // 8)


def test_a_board_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "mps2-an386.yaml"
    path.write_bytes((boards_dir() / "mps2-an386.yaml").read_bytes() + b"# caf\xe9 (latin-1)\n")
    with pytest.raises(EdgeDeployError) as info:
        load_board(path)
    assert "not UTF-8" in info.value.message and "0xe9" in info.value.message and str(path) in info.value.message


def test_boards_json_lists_the_five_boards():
    result = subprocess.run([sys.executable, "-m", "edge_deploy", "boards", "--json"],
                            capture_output=True, text=True, check=True)
    entries = json.loads(result.stdout)
    assert {entry["name"] for entry in entries} == set(board_names())
    assert EXPECTED <= {entry["name"] for entry in entries}
    an386 = next(entry for entry in entries if entry["name"] == "mps2-an386")
    assert an386["emulators"] == ["qemu"] and an386["console"]["base"] == 0x40004000


def test_boards_table_has_one_line_per_board():
    result = subprocess.run([sys.executable, "-m", "edge_deploy", "boards"], capture_output=True, text=True,
                            check=True)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 + len(board_names())
    assert any(line.startswith("nrf52840-dk") and "nrf-uarte" in line for line in lines)
