"""The static stack bound (edge_deploy.toolchain.stack_bound): GCC's call graphs of real
arm-none-eabi-gcc builds, joined and walked; library frames read from the linked ELF. Checked
against the stack measured on QEMU, and on programs whose bound is known by construction."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from codegen_models import tiny_graph

from edge_deploy.boards import load_board
from edge_deploy.build.firmware_build import build_graph
from edge_deploy.toolchain import arch_flags
from edge_deploy.toolchain.stack_bound import (
    EXCEPTION_FRAME_BYTES,
    STACK_USAGE_FLAGS,
    UnboundedStack,
    static_stack_bound,
)

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")

PROGRAM = r"""
#include <string.h>
#define NOINLINE __attribute__((noinline))
volatile int sink;
typedef int (*layer_fn)(void);
NOINLINE static int leaf(int n) { volatile char buf[200]; buf[n & 127] = 1; return buf[3]; }
NOINLINE int layer_a(void) { volatile char big[400]; big[sink & 255] = 2; return big[1] + leaf(sink); }
NOINLINE int layer_b(void) { return leaf(sink); }
layer_fn layers[] = {layer_a, layer_b};
NOINLINE int run(void) { int s = 0; for (int i = 0; i < sink; i++) s += layers[i & 1](); return s; }
static char dst[64], src[64];
int main(void) { memcpy(dst, src, (unsigned)sink); return run() + SPECIAL; }
void Reset_Handler(void) { main(); for (;;) {} }
void SysTick_Handler(void) { sink = leaf(1); }
__attribute__((used, section(".vectors"))) void (*const vectors[])(void) = {0, Reset_Handler, SysTick_Handler};
"""


def _bound(tmp_path, special="0", extra=""):
    return _bound_of(tmp_path, extra + PROGRAM.replace("SPECIAL", special))


def _bound_of(tmp_path, program: str):
    src = tmp_path / "p.c"
    src.write_text(program)
    flags = [*arch_flags(load_board("mps2-an386")), "-O2", "-ffunction-sections", "--specs=nano.specs",
             *STACK_USAGE_FLAGS]
    subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(tmp_path / "p.o")], check=True,
                   cwd=tmp_path)
    subprocess.run(["arm-none-eabi-gcc", *flags[:-2], "--specs=nosys.specs", "-nostartfiles", "-Wl,--gc-sections",
                    "-Wl,-e,Reset_Handler", str(tmp_path / "p.o"), "-o", str(tmp_path / "p.elf")], check=True)
    return static_stack_bound([tmp_path / "p.ci"], tmp_path / "p.elf")


def test_the_bound_follows_the_layer_table_and_adds_the_handler(tmp_path):
    bound = _bound(tmp_path)
    names = [name for name, _ in bound.path]
    # The deepest path goes through the pointer table into the layer with the 400-byte frame.
    assert names[:3] == ["Reset_Handler", "main", "run"] and names[3] == "layer_a" and names[-1] == "leaf"
    frames = dict(bound.path)
    assert frames["layer_a"] >= 400 and frames["leaf"] >= 200
    assert bound.handler_path[0][0] == "SysTick_Handler"
    assert bound.bytes == (sum(f for _, f in bound.path) + EXCEPTION_FRAME_BYTES
                           + sum(f for _, f in bound.handler_path))


def test_recursion_and_run_time_frames_have_no_bound(tmp_path):
    with pytest.raises(UnboundedStack, match="'down' is recursive"):
        _bound(tmp_path, "down(sink)", "__attribute__((noinline)) int down(int n) { volatile char b[16]; b[0] = n; return n > 1 ? down(n - 1) + down(n - 2) + b[0] : 0; }\n")
    with pytest.raises(UnboundedStack, match="'vla' has a frame sized at run time"):
        _bound(tmp_path, "vla(sink)", "__attribute__((noinline)) int vla(int n) { volatile char b[n]; b[0] = 1; return b[0]; }\n")


def test_the_bound_covers_the_measured_stack_and_sizes_a_board_qemu_cannot_run(qemu_arm, tmp_path):
    graph = tiny_graph()
    measured = build_graph(graph, "mps2-an386", tmp_path / "qemu").report
    # An upper bound of every path, interrupts included, yet not far above what the model used.
    assert measured["stack_peak_bytes"] <= measured["stack_static_bound_bytes"] <= 2 * measured["stack_peak_bytes"] + 512
    board = load_board("nucleo-l4r5zi")
    assert not board.emulation.qemu_machine
    static = build_graph(graph, board, tmp_path / "l4").report
    assert static["stack_source"].startswith("static bound of the call graph")
    assert static["stack_peak_bytes"] is None
    assert static["stack_static_bound_bytes"] + 256 <= static["stack_bytes"] < board.stack_bytes
    assert static["sections"][".stack"] == static["stack_bytes"]


def test_an_indirect_call_with_no_known_target_has_no_bound(tmp_path):
    # The pointer comes from a number: no object file takes any function's address.
    with pytest.raises(UnboundedStack, match="calls through a pointer to no function"):
        _bound_of(tmp_path, r"""
volatile unsigned where = 0x101;
__attribute__((noinline)) int jump(void) { return ((int (*)(void))where)(); }
int main(void) { return jump(); }
void Reset_Handler(void) { main(); for (;;) {} }
__attribute__((used, section(".vectors"))) void (*const vectors[])(void) = {0, Reset_Handler};
""")
