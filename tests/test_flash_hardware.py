"""Flash a real board and read its flash back. Needs a debug probe and
EDGE_DEPLOY_FLASH_BOARD=<board name> (it overwrites the board's firmware); skips otherwise."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from edge_deploy.boards import load_board
from edge_deploy.flash import flash_firmware
from test_flash_firmware import attached_probes, build_elf


def test_flash_and_read_back(arm_gcc: str, tmp_path: Path) -> None:
    pytest.importorskip("pyocd", reason="pyOCD is not installed (pip install pyocd)")
    probes = attached_probes()
    if not probes:
        pytest.skip("no debug probe attached")
    board_name = os.environ.get("EDGE_DEPLOY_FLASH_BOARD")
    if not board_name:
        pytest.skip("a debug probe is attached; set EDGE_DEPLOY_FLASH_BOARD=<board> to let this test overwrite its firmware")
    board = load_board(board_name)
    elf = build_elf(arm_gcc, board_name, tmp_path)
    binary = tmp_path / "fw.bin"
    subprocess.run([str(Path(arm_gcc).with_name("arm-none-eabi-objcopy")), "-O", "binary", str(elf), str(binary)], check=True)

    result = flash_firmware(tmp_path, board, probe=os.environ.get("EDGE_DEPLOY_FLASH_PROBE"))
    assert result.probe is not None and result.flash_bytes == binary.stat().st_size

    from pyocd.core.helpers import ConnectHelper

    session = ConnectHelper.session_with_chosen_probe(
        blocking=False, return_first=True, unique_id=result.probe, target_override=board.flashing.pyocd_target
    )
    with session:
        session.target.halt()
        read_back = bytes(session.target.read_memory_block8(board.memory.flash.origin, result.flash_bytes))
        session.target.reset()
    assert read_back == binary.read_bytes()
