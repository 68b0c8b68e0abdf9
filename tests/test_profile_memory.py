"""The plugin's data-access counts on a real build: every load and store of every instruction
is counted, in the right region, and every flash load and fetch-line entry has a reuse record."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_deploy.boards import load_board
from edge_deploy.cli import main
from edge_deploy.profile import decode as k
from edge_deploy.profile.decode import decode_code
from edge_deploy.profile.memory_map import memory_layout
from edge_deploy.profile.qemu_run import run_with_counts

pytestmark = pytest.mark.qemu
CONV2D = Path(__file__).resolve().parent / "data" / "tflite" / "conv2d.tflite"


@pytest.fixture(scope="module")
def conv2d(tmp_path_factory, qemu_arm):
    from edge_deploy.build.firmware_build import load_build_report
    from edge_deploy.check import build_profile_firmware

    out = tmp_path_factory.mktemp("memory") / "build"
    assert main(["build", str(CONV2D), "--board", "mps2-an386", "--out", str(out)]) == 0
    firmware = build_profile_firmware(out, load_build_report(out))
    board = load_board("mps2-an386")
    layout = memory_layout(board, load_board("nucleo-l4r5zi").flash)
    run = run_with_counts(firmware.elf, layout=layout)
    assert run.exit_code == 0
    return board, run, decode_code(run.counts.code)


def _accesses_per_execution(insn) -> tuple[int, int] | None:
    """(memory operations, bytes) one execution makes, where the instruction alone says."""
    single = {"ldr": 4, "str": 4, "ldrb": 1, "strb": 1, "ldrh": 2, "strh": 2, "ldrsb": 1, "ldrsh": 2}
    if insn.kind in (k.LOAD, k.STORE) and insn.name in single and not insn.writes_pc:
        return 1, single[insn.name]
    if insn.kind in (k.LOAD_MULTIPLE, k.STORE_MULTIPLE):
        return insn.n_regs, 4 * insn.n_regs
    if insn.kind in (k.LOAD_DOUBLE, k.STORE_DOUBLE):
        return 2, 8
    if insn.kind in (k.ALU, k.MUL, k.MAC, k.DSP, k.SIMD, k.BRANCH, k.IT):
        return 0, 0
    return None


def test_every_access_of_every_instruction_is_counted(conv2d):
    _board, run, insns = conv2d
    accesses = run.counts.memory.accesses
    checked = 0
    for addr, n in run.counts.per_address.items():
        insn = insns[addr]
        expected = _accesses_per_execution(insn)
        if expected is None or insn.conditional:
            continue
        regions = accesses.get(addr, {})
        ops = sum(a.loads + a.stores for a in regions.values())
        size = sum(a.load_bytes + a.store_bytes for a in regions.values())
        assert (ops, size) == (n * expected[0], n * expected[1]), insn.text
        checked += 1
    assert checked > 200


def test_accesses_fall_in_the_board_regions(conv2d):
    board, run, _insns = conv2d
    memory = run.counts.memory.by_region()
    assert set(memory) <= {"flash", "ram", "periph"}
    assert memory["flash"].loads > 0 and memory["flash"].stores == 0   # weights and constants
    assert memory["ram"].loads > 0 and memory["ram"].stores > 0         # activations, stack
    assert run.counts.regions[0] == ("flash", board.memory.flash.origin, board.memory.flash.end)


def test_every_flash_load_and_fetch_entry_has_a_reuse_record(conv2d):
    _board, run, insns = conv2d
    memory = run.counts.memory
    for addr, regions in memory.accesses.items():
        flash_loads = regions["flash"].loads if "flash" in regions else 0
        assert memory.data_reuse.get(addr) is None and flash_loads == 0 or memory.data_reuse[addr].total == flash_loads
    entries = {addr: fetch.seq.total + fetch.jump.total for addr, fetch in memory.fetch_reuse.items()}
    assert entries and all(n <= run.counts.per_address[addr] for addr, n in entries.items())
    # Execution enters a line at least once per line of code that ran (the first time).
    lines_run = {addr // 8 for addr in run.counts.per_address}
    assert sum(entries.values()) >= len(lines_run)
    assert memory.geometry.fetch_read_bytes == 8 and memory.geometry.data_line_bytes == 32
