"""Renode as a source of per-address instruction counts for the profiler.

Everywhere: the block counts are parsed, and expanded to per-address counts with the bytes the
disassembler sees. Where Renode is installed: the same ELF, run on QEMU (count plugin) and on
Renode (block hooks), gives identical per-address counts in every layer, and `edge-deploy
profile --emulator renode` reports exact instructions and modelled cycles per layer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from codegen_models import tiny_graph

from edge_deploy.errors import EdgeDeployError
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.renode_counts import (
    SOURCE_RENODE,
    BlockSegment,
    ElfCode,
    expand_blocks,
    parse_block_counts,
    thumb_size,
)

RENODE_MISSING = shutil.which("renode") is None
NO_RENODE = "renode is not on PATH (no package registry carries it: docs/renode.md builds it locally)"

# Runs unchanged on QEMU mps2-an386 and on Renode nrf52840-dk: code from 0x0, data and stack in
# the first 64 KiB of RAM at 0x20000000 (both machines have memory there). Two "layers" share a
# kernel, as generated layers share CMSIS-NN kernels; the exit routine has the runtime's name.
BOTH_MACHINES_C = r"""
#include <stdint.h>
#include "ed_profile.h"

extern uint32_t __stack_top;
void ed_reset(void);
__attribute__((section(".vectors"), used))
static const void *const vectors[2] = {&__stack_top, (const void *)ed_reset};

static int8_t a[64], b[64];
static int32_t out[16];

__attribute__((noinline)) int32_t dot_s8(const int8_t *x, const int8_t *w, int n)
{
    int32_t acc = 0;
    for (int i = 0; i < n; i++) {
        acc += x[i] * w[i];
    }
    return acc;
}

__attribute__((noinline, noreturn)) void ed_semihost_exit(uint32_t code)
{
    static volatile uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = code;
    register uint32_t op __asm__("r0") = 0x20u;
    register volatile uint32_t *arg __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(op), "r"(arg) : "memory");
    for (;;) {
    }
}

__attribute__((noreturn)) void ed_reset(void)
{
    for (int i = 0; i < 64; i++) { a[i] = (int8_t)(i - 32); b[i] = (int8_t)(3 * i); }
    ed_profile_mark(0);
    for (int o = 0; o < 8; o++) out[o] = dot_s8(a, b, 64);
    ed_profile_mark(1);
    for (int o = 0; o < 4; o++) out[8 + o] = dot_s8(a, b + o, 32);
    ed_profile_mark(ED_PROFILE_MARK_END);
    ed_semihost_exit(out[0] == 0 ? 1u : 0u);
}
"""

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 1M
         RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 64K }
SECTIONS {
    .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
    .data : { *(.data*) } > RAM
    .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


@pytest.fixture(scope="module")
def both_machines_elf(tmp_path_factory, repo_root, arm_gcc) -> Path:
    from edge_deploy.profile.baremetal import CPU_FLAGS

    root = tmp_path_factory.mktemp("renode-counts")
    (root / "fw.c").write_text(BOTH_MACHINES_C)
    (root / "fw.ld").write_text(LINKER_SCRIPT)
    elf = root / "fw.elf"
    subprocess.run([arm_gcc, *CPU_FLAGS, "-O1", "-g", "-ffreestanding", "-nostdlib", "-Wall",
                    f"-I{repo_root / 'firmware' / 'runtime'}", "-T", str(root / "fw.ld"), str(root / "fw.c"),
                    "-o", str(elf), "-lgcc"], check=True, capture_output=True, text=True)
    return elf


def objdump(elf: Path, function: str) -> list[tuple[int, bytes]]:
    """(address, bytes) of every instruction of ``function``, as objdump disassembles it."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)],
                          capture_output=True, text=True, check=True).stdout
    out = []
    for match in re.finditer(r"^\s+([0-9a-f]+):\t([0-9a-f]{4}(?: [0-9a-f]{4})?) +\t[a-z]", text, re.MULTILINE):
        halfwords = match.group(2).split()
        out.append((int(match.group(1), 16), b"".join(int(h, 16).to_bytes(2, "little") for h in halfwords)))
    return out


def test_thumb_instruction_sizes():
    assert thumb_size(0x4770) == 2                      # bx lr
    assert thumb_size(0xF000) == 4 and thumb_size(0xE92D) == 4 and thumb_size(0xF8D0) == 4   # bl, push.w, ldr.w
    assert thumb_size(0xE7FE) == 2                      # b . (0b11100: still 16-bit)


def test_blocks_expand_to_the_instructions_objdump_sees(both_machines_elf):
    """A block (first address, n instructions) becomes n per-address counts at the addresses and
    with the bytes of the disassembly, counted as many times as the block ran."""
    dot = objdump(both_machines_elf, "dot_s8")
    reset = objdump(both_machines_elf, "ed_reset")
    assert any(len(b) == 4 for _, b in reset) and any(len(b) == 2 for _, b in reset)   # both sizes occur
    segments = (BlockSegment(0, None, {(reset[0][0], len(reset)): 1}),
                BlockSegment(1, 0, {(dot[0][0], len(dot)): 8, (reset[0][0], 3): 2}))
    counts = expand_blocks(segments, ElfCode(both_machines_elf))
    assert counts.segments[0].counts == {addr: 1 for addr, _ in reset}
    assert counts.segments[1].counts == {**{addr: 8 for addr, _ in dot}, **{addr: 2 for addr, _ in reset[:3]}}
    assert counts.code == dict(sorted({**dict(reset), **dict(dot)}.items()))
    assert counts.total == len(reset) + 8 * len(dot) + 6
    assert counts.marks_seen() == [0]


def test_code_outside_the_elf_is_refused(both_machines_elf):
    with pytest.raises(EdgeDeployError, match="not in the firmware's loaded code"):
        expand_blocks((BlockSegment(0, None, {(0x10000000, 1): 1}),), ElfCode(both_machines_elf))


def test_block_count_files_are_parsed_and_checked():
    text = "edge-deploy-renode-blocks 1\nsegment 0 -1\n100 3 2\nsegment 1 0\n106 1 1\n200 4 5\nexit 0\nend 27\n"
    counts = parse_block_counts(text)
    assert counts.exit_code == 0 and counts.total == 27
    assert [(s.index, s.mark, s.blocks) for s in counts.segments] == [
        (0, None, {(0x100, 3): 2}), (1, 0, {(0x106, 1): 1, (0x200, 4): 5})]
    for bad, message in ((text.replace("end 27", "end 26"), "truncated"), (text.rsplit("exit", 1)[0], "truncated"),
                         ("garbage\n", "not a Renode block-count file"), (text.replace("200 4 5", "200 x 5"), "malformed")):
        with pytest.raises(EdgeDeployError, match=message):
            parse_block_counts(bad)


@pytest.mark.qemu
@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
@pytest.mark.parametrize("mark", [None, 0, 1, 255])
def test_renode_counts_equal_qemu_counts_address_by_address(both_machines_elf, qemu_arm, mark, renode_vs_qemu):
    """The same ELF on QEMU (count plugin) and on Renode (block hooks): every mark segment has
    the same per-address counts. Renode stops at the exit routine's entry, QEMU runs it to its
    BKPT, so the exit routine's own instructions are left out of the comparison."""
    qemu, renode = renode_vs_qemu
    exit_routine = read_elf_symbols(both_machines_elf).get("ed_semihost_exit")

    def outside_exit(counts):
        return {a: c for a, c in counts.items() if not exit_routine.addr <= a < exit_routine.end}

    assert renode.counts.marks_seen() == qemu.counts.marks_seen() == [0, 1, 255]
    assert outside_exit(renode.counts.per_mark()[mark]) == outside_exit(qemu.counts.per_mark()[mark])
    assert all(renode.counts.code[a] == qemu.counts.code[a] for a in renode.counts.per_address)


@pytest.mark.qemu
@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
def test_renode_counts_price_as_qemu_counts_in_the_cycle_model(both_machines_elf, renode_vs_qemu):
    """Both runs' counts through the same decoder and Cortex-M4 model at zero wait states: every
    layer gets the same cycles, less QEMU's misaligned-access cycles (Renode counts no memory
    accesses, so the model has none to price there)."""
    from edge_deploy.profile.attribution import per_mark, segment_cycles
    from edge_deploy.profile.cycle_model import CortexM4Timing
    from edge_deploy.profile.decode import decode_code

    qemu, renode = renode_vs_qemu
    priced = {}
    for name, run in (("qemu", qemu), ("renode", renode)):
        segments = segment_cycles(run.counts, decode_code(run.counts.code), CortexM4Timing())
        misaligned = {m: sum(s.parts["misaligned"] for s in segments if s.mark == m) for m in (0, 1)}
        priced[name] = {m: per_mark(segments)[m].cycles - misaligned[m] for m in (0, 1)}
        assert name == "qemu" or misaligned == {0: 0, 1: 0}
    assert priced["renode"] == priced["qemu"]
    assert all(sum(renode.counts.per_mark()[m].values()) <= cycles for m, cycles in priced["renode"].items())


@pytest.fixture(scope="module")
def renode_vs_qemu(both_machines_elf, qemu_arm):
    from edge_deploy.profile.qemu_run import run_with_counts
    from edge_deploy.profile.renode_counts import run_with_counts_renode

    qemu = run_with_counts(both_machines_elf)
    renode = run_with_counts_renode(both_machines_elf, machine="nrf52840-dk", timeout_s=120)
    assert qemu.exit_code == renode.exit_code == 0
    return qemu, renode


@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
@pytest.mark.parametrize("board", ["stm32f4-discovery"])
def test_profile_cli_on_renode_gives_exact_instructions_and_modelled_cycles(tmp_path, board, arm_gcc):
    from edge_deploy.cli import main
    from edge_deploy.tflite import export_tflite

    model = tmp_path / "tiny.tflite"
    model.write_bytes(export_tflite(tiny_graph(0)))
    build = tmp_path / "build"
    # Portable kernels: the SIMD max pool selects bytes by GE flags, which Renode 1.15 sets wrongly,
    # so its outputs differ and softmax, which branches on its input values, runs other counts.
    assert main(["build", str(model), "--board", board, "--kernels", "portable", "--out", str(build)]) == 0
    assert main(["profile", str(build), "--emulator", "renode"]) == 0
    data = json.loads((build / "profile.json").read_text())
    assert data["source"] == SOURCE_RENODE and data["machine"] == board and data["board"] == board
    assert [layer["name"] for layer in data["layers"]] == ["conv", "pool", "fc", "softmax"]
    for layer in data["layers"]:
        assert 0 < layer["instructions"] <= layer["cycles"]
        assert layer["mac_per_cycle"] is None or layer["mac_per_cycle"] <= 2.0
    assert data["instructions"] == sum(layer["instructions"] for layer in data["layers"])
    # Renode counts no memory accesses: the report says so instead of showing zero stalls.
    assert data["core"] == f"Renode {board} (Cortex-M4F)" and data["timing"].startswith("none:")
    assert data["memory"] == {} and data["stalls"] == {} and data["cycle_model"]["flash"] is None
    assert "Memory stalls: not modelled" in (build / "profile.md").read_text()
    # The build priced its kernels at the board's flash; Renode's cycles are at 0 wait states, so
    # the prices are not set beside them.
    assert data["kernel_prices"]["comparable"] is False and all("modelled_cycles" not in layer for layer in data["layers"])
    # The same cycle model as QEMU's profile at zero wait states (--timing mps2-an386), less the
    # misaligned-access cycles only QEMU's counts can price.
    assert main(["profile", str(build), "--timing", "mps2-an386"]) == 0
    qemu = json.loads((build / "profile.json").read_text())
    assert [layer["instructions"] for layer in data["layers"]] == [layer["instructions"] for layer in qemu["layers"]]
    assert [layer["cycles"] for layer in data["layers"]] == [
        layer["cycles"] - layer["stalls"]["misaligned"] for layer in qemu["layers"]]


# --- Renode 1.15's GE flags (edge_deploy.profile.renode_ge_flags) ---------------------------

# One DSP instruction form per entry: C statements computing r from random a, b, c.
DSP_FORMS = {
    **{f"sel_after_{op}": f'__asm__ volatile("{op} %0, %1, %2\\n\\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");'
       for op in ("sadd8", "ssub8", "sadd16", "ssub16", "sasx", "ssax", "uadd8", "usub8", "uadd16", "usub16",
                  "uasx", "usax")},
    "smlad": '__asm__ volatile("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));',
    "sxtb16_ror8": '__asm__ volatile("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(a));',
    "sxtab16": '__asm__ volatile("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));',
    "ssat8": '__asm__ volatile("ssat %0, #8, %1, asr #7" : "=r"(r) : "r"(a));',
    "usat8": '__asm__ volatile("usat %0, #8, %1" : "=r"(r) : "r"(a));',
    "smull": '{ uint32_t hi; __asm__ volatile("smull %0, %1, %2, %3" : "=r"(r), "=r"(hi) : "r"(a), "r"(b)); r ^= hi * 31u; }',
    "smlal": '{ uint32_t hi = c; r = a; __asm__ volatile("smlal %0, %1, %2, %3" : "+r"(r), "+r"(hi) : "r"(b), "r"(c)); r ^= hi * 31u; }',
    "qadd": '__asm__ volatile("qadd %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));',
}
# What Renode before 1.16 gets wrong: a SEL after a GE-setting form other than UADD8/UADD16.
WRONG_BEFORE_1_16 = {f"sel_after_{op}" for op in ("sadd8", "ssub8", "sadd16", "ssub16", "sasx", "ssax", "usub8",
                                                  "usub16", "uasx", "usax")}

DSP_PROGRAM = r"""
#include <stdint.h>
extern uint32_t __stack_top;
void ed_reset(void);
__attribute__((section(".vectors"), used))
static const void *const vectors[2] = {&__stack_top, (const void *)ed_reset};
volatile uint32_t results[N_FORMS];
static uint32_t s;
static uint32_t rnd(void) { s ^= s << 13; s ^= s >> 17; s ^= s << 5; return s; }
static void put(const char *text)   /* semihosting SYS_WRITE0: QEMU prints it, Renode ignores it */
{
    register uint32_t op __asm__("r0") = 4u;
    register const char *arg __asm__("r1") = text;
    __asm__ volatile("bkpt 0xab" : "+r"(op) : "r"(arg) : "memory");
}
__attribute__((noinline, noreturn)) void ed_semihost_exit(uint32_t code)
{
    register uint32_t op __asm__("r0") = 0x18u;
    register uint32_t arg __asm__("r1") = code == 0u ? 0x20026u : 0x20023u;
    __asm__ volatile("bkpt 0xab" : : "r"(op), "r"(arg) : "memory");
    for (;;) {
    }
}
__attribute__((noreturn)) void ed_reset(void)
{
    static char line[10];
    uint32_t a, b, c, r = 0;
FORMS
    for (int i = 0; i < N_FORMS; i++) {
        for (int d = 0; d < 8; d++) {
            uint32_t nibble = (results[i] >> (28 - 4 * d)) & 15u;
            line[d] = (char)(nibble < 10u ? '0' + nibble : 'a' + nibble - 10u);
        }
        line[8] = '\n';
        put(line);
    }
    ed_semihost_exit(0u);
}
"""


def _dsp_program(tmp_path: Path, arm_gcc: str) -> Path:
    from edge_deploy.profile.baremetal import CPU_FLAGS

    loops = []
    for i, statement in enumerate(DSP_FORMS.values()):
        loops.append(f"    s = {12345 + i}u; results[{i}] = 2166136261u;\n"
                     f"    for (int k = 0; k < 2000; k++) {{\n"
                     f"        a = rnd(); b = rnd(); c = rnd();\n"
                     f"        if (k & 1) {{ a &= 0x80ff80ffu; b |= 0x7f007f00u; }}\n"
                     f"        {statement}\n"
                     f"        results[{i}] = (results[{i}] ^ r) * 16777619u;\n    }}")
    source = DSP_PROGRAM.replace("N_FORMS", str(len(DSP_FORMS))).replace("FORMS", "\n".join(loops))
    (tmp_path / "dsp.c").write_text(source)
    (tmp_path / "dsp.ld").write_text(LINKER_SCRIPT)
    elf = tmp_path / "dsp.elf"
    subprocess.run([arm_gcc, *CPU_FLAGS, "-O1", "-ffreestanding", "-nostdlib", "-T", str(tmp_path / "dsp.ld"),
                    str(tmp_path / "dsp.c"), "-o", str(elf), "-lgcc"], check=True, capture_output=True, text=True)
    return elf


def test_sel_sites_name_sel_after_wrong_ge_setters(tmp_path, arm_gcc):
    """The static scan finds every SEL whose GE bits Renode 1.15 sets wrongly, and not the
    UADD8 + SEL of newlib's strlen (the carry is right there)."""
    from edge_deploy.profile.renode_ge_flags import sel_sites

    sites = sel_sites(_dsp_program(tmp_path, arm_gcc))
    assert {f"sel_after_{site.ge_from}" for site in sites} == WRONG_BEFORE_1_16
    assert all(site.function == "ed_reset" and site.address % 2 == 0 for site in sites)


@pytest.mark.qemu
@pytest.mark.renode
@pytest.mark.skipif(RENODE_MISSING, reason=NO_RENODE)
def test_renode_differs_from_qemu_exactly_in_the_known_ge_flags(tmp_path, qemu_arm):
    """The same DSP program on QEMU and Renode: the per-form hashes agree except the known GE
    bug of Renode before 1.16 (and agree everywhere on a fixed Renode)."""
    from edge_deploy.emulators.renode import find_renode, start_renode
    from edge_deploy.profile.renode_ge_flags import FIXED_IN, renode_version

    elf = _dsp_program(tmp_path, shutil.which("arm-none-eabi-gcc"))
    qemu = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
                           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=60)
    qemu = (qemu.stdout + qemu.stderr).split()   # semihosting console output
    results = read_elf_symbols(elf).get("results").addr
    dump = tmp_path / "dump.py"
    dump.write_text(f"from System.IO import File\n\ndef _dump(status):\n"
                    f"    words = ['%08x' % int(edge_deploy_cpu.Bus.ReadDoubleWord({results:#x} + 4 * i))"
                    f" for i in range({len(DSP_FORMS)})]\n"
                    f"    File.WriteAllText(r'{tmp_path / 'renode.txt'}', ' '.join(words))\n\n"
                    f"edge_deploy_at_exit.append(_dump)\n")
    with start_renode("nrf52840-dk", elf, scripts=[dump]) as target:
        assert target.wait(timeout=120) == 0
    renode = (tmp_path / "renode.txt").read_text().split()
    assert len(qemu) == len(renode) == len(DSP_FORMS)
    differ = {name for name, q, r in zip(DSP_FORMS, qemu, renode) if q != r}
    version = renode_version(find_renode())
    assert differ == (set() if version and version[:2] >= FIXED_IN else WRONG_BEFORE_1_16), (version, differ)
