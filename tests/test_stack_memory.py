"""The runtime's RAM: link buffers sized for the model (ed_runtime_config.h), the stack painted at
reset and sized from the high-water mark measured on QEMU (edge_deploy.build.stack). Real builds
with arm-none-eabi-gcc, run on real QEMU over the real serial protocol."""

from __future__ import annotations

import numpy as np
import pytest
from codegen_models import random_inputs, tiny_graph
from firmware_builds import session_firmware

from edge_deploy.boards import load_board
from edge_deploy.build.device_run import run_batch, stack_summary
from edge_deploy.build.firmware_build import build_graph
from edge_deploy.build.stack import (
    STACK_MARGIN_BYTES,
    measure_stack_peak,
    measured_stack,
    runtime_buffer_bytes,
    sized_stack,
)
from edge_deploy.emulators.qemu import start_qemu
from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run_graph

pytestmark = pytest.mark.qemu
BOARD = "mps2-an386"


@pytest.fixture(scope="module")
def measured(qemu_arm, tmp_path_factory):
    """The tiny conv model built for mps2-an386 with the default stack (measured on QEMU)."""
    graph = tiny_graph()
    return graph, build_graph(graph, BOARD, tmp_path_factory.mktemp("stack") / "tiny")


def test_the_stack_is_the_measured_peak_plus_the_margin(measured):
    _, build = measured
    report, board = build.report, load_board(BOARD)
    peak = report["stack_peak_bytes"]
    assert report["stack_source"].startswith("measured on QEMU mps2-an386")
    assert 0 < peak < report["stack_bytes"] == sized_stack(peak) < board.stack_bytes
    assert report["stack_bytes"] >= peak + STACK_MARGIN_BYTES and report["stack_bytes"] % 8 == 0
    assert report["sections"][".stack"] == report["stack_bytes"]        # what the ELF reserves
    linker = (build.out_dir / "src" / "board" / "linker.ld").read_text()
    assert f"_stack_size = {report['stack_bytes']};" in linker and "measured on QEMU" in linker
    assert not (build.out_dir / "src" / "build").exists()               # objects removed after the relink


def test_ram_besides_the_stack_is_the_arena_plus_less_than_2_kib(measured):
    report = measured[1].report
    assert report["runtime_buffer_bytes"] == runtime_buffer_bytes(measured[1].out_dir / "firmware.elf")
    assert 0 < report["runtime_buffer_bytes"] < 1024                    # was 7.7 KB with 4 KiB frames
    assert report["ram_bytes"] - report["stack_bytes"] <= report["arena_bytes"] + 2048


def test_the_sized_firmware_runs_right_with_interrupts_on(measured):
    # The relinked firmware, the normal way (UART link, SysTick interrupts): outputs equal the
    # interpreter's, and the stack it then uses stays inside what was reserved.
    graph, build = measured
    report = build.report
    inputs = random_inputs(graph, 6)
    expected = run_graph(graph, inputs)[graph.outputs[0]]
    with start_qemu(BOARD, build.out_dir / "firmware.elf") as target, target.connect() as device:
        outputs = [np.frombuffer(out, np.int8) for _, out in device.run_inputs([x.tobytes() for x in inputs])]
        info = device.info()
    assert np.array_equal(np.stack(outputs).reshape(expected.shape), expected)
    assert info.stack_bytes == report["stack_bytes"]
    assert report["stack_peak_bytes"] <= info.stack_peak < info.stack_bytes


def test_board_mode_keeps_the_board_stack(qemu_arm, tmp_path):
    build = build_graph(tiny_graph(), BOARD, tmp_path / "tiny", stack="board")
    board = load_board(BOARD)
    assert (build.report["stack_bytes"], build.report["stack_peak_bytes"]) == (board.stack_bytes, None)
    assert build.report["sections"][".stack"] == board.stack_bytes
    with pytest.raises(EdgeDeployError, match="unknown stack mode 'big'"):
        measured_stack(board, build.out_dir / "firmware.elf", "big")


def test_the_runtime_without_a_model_reports_its_mark(tmp_path_factory, qemu_arm):
    # The painted stack is read back on demand: a fresh boot has used some of it, never all.
    build = session_firmware(tmp_path_factory, BOARD)
    peak = measure_stack_peak(load_board(BOARD), build.elf)
    assert 0 < peak < load_board(BOARD).stack_bytes
    with start_qemu(BOARD, build.elf, link="semihost") as target, target.connect() as device:
        assert device.boot_info.stack_bytes == load_board(BOARD).stack_bytes
        assert 0 < device.boot_info.stack_peak <= device.info().stack_peak


def test_edge_deploy_run_reports_the_stack_high_water_mark(measured):
    graph, build = measured
    result = run_batch(build.out_dir, random_inputs(graph, 2, seed=5))
    assert result.stack_bytes == build.report["stack_bytes"]
    assert build.report["stack_peak_bytes"] <= result.stack_peak < result.stack_bytes
    assert stack_summary(result).startswith(f"stack: {result.stack_peak:,} of {result.stack_bytes:,} B used")
