"""The QEMU instruction-count plugin: it builds, QEMU loads it, and its counts are exact."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.profile.attribution import per_range
from edge_deploy.profile.counts import parse_counts
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.microbench import build_microbenchmark
from edge_deploy.profile.microbench_cases import BENCHMARKS
from edge_deploy.profile.plugin_build import PLUGIN_SOURCE, plugin_path
from edge_deploy.profile.qemu_run import qemu_binary, run_with_counts

pytestmark = pytest.mark.qemu


def _bench(name: str):
    return next(b for b in BENCHMARKS if b.name == name)


def _objdump_addresses(elf: Path, lo: int, hi: int) -> list[int]:
    """Instruction addresses in [lo, hi) as arm-none-eabi-objdump disassembles them."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", f"--start-address={lo:#x}", f"--stop-address={hi:#x}",
                          str(elf)], capture_output=True, text=True, check=True).stdout
    return [int(m.group(1), 16) for m in re.finditer(r"^\s+([0-9a-f]+):\s+[0-9a-f]{4}", out, re.M)]


@pytest.fixture(scope="module")
def s8_mac(tmp_path_factory, qemu_arm):
    elf = build_microbenchmark(_bench("s8_mac"), tmp_path_factory.mktemp("plugin"))
    return elf, run_with_counts(elf)


def test_plugin_builds_once_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_DEPLOY_CACHE", str(tmp_path))
    first = plugin_path()
    assert first.is_file() and first.is_relative_to(tmp_path)
    mtime = first.stat().st_mtime_ns
    assert plugin_path() == first and first.stat().st_mtime_ns == mtime
    exported = subprocess.run(["nm", "-D", "--defined-only", str(first)], capture_output=True, text=True).stdout
    assert "qemu_plugin_install" in exported and "qemu_plugin_version" in exported


def test_loop_counts_equal_the_disassembly(s8_mac):
    elf, run = s8_mac
    assert run.exit_code == 0
    symbols = read_elf_symbols(elf)
    lo, hi = symbols.get("bench_loop").addr, symbols.get("bench_loop_end").addr
    loop_addrs = _objdump_addresses(elf, lo, hi)
    counts = run.counts.per_address
    iterations = _bench("s8_mac").iterations
    assert sorted(a for a in counts if lo <= a < hi) == loop_addrs
    assert all(counts[a] == iterations for a in loop_addrs)
    assert per_range(counts, {}, {})["<other>"].instructions == run.counts.total
    loop_total = sum(counts[a] for a in loop_addrs)
    assert loop_total == iterations * len(loop_addrs)
    # Everything outside the loop (start-up, call, exit) runs exactly once.
    assert {n for a, n in counts.items() if not lo <= a < hi} == {1}


def test_ranges_add_up_to_the_total(s8_mac):
    elf, run = s8_mac
    symbols = read_elf_symbols(elf)
    bench, loop = symbols.get("bench"), symbols.get("bench_loop")
    end = symbols.get("bench_loop_end")
    counts = run.counts.per_address
    ranges = {"setup": (bench.addr, loop.addr), "loop": (loop.addr, end.addr), "reset": (0, bench.addr)}
    tallies = per_range(counts, {}, ranges)
    assert sum(t.instructions for t in tallies.values()) == run.counts.total
    assert tallies["loop"].instructions == sum(n for a, n in counts.items() if loop.addr <= a < end.addr)
    with pytest.raises(ValueError, match="overlap"):
        per_range(counts, {}, {"a": (0, 10), "b": (8, 20)})


def test_two_runs_give_identical_counts(s8_mac):
    elf, run = s8_mac
    again = run_with_counts(elf)
    assert again.counts == run.counts and again.counts.per_address == run.counts.per_address


def test_counts_stay_exact_through_uart_io_under_icount(tmp_path, qemu_arm):
    """MMIO in the middle of a block makes QEMU re-translate under -icount; counts stay exact."""
    from edge_deploy.profile.baremetal import build_elf

    src = tmp_path / "uart.c"
    src.write_text(
        "#include <stdint.h>\n"
        "#define UART0 ((volatile uint32_t *)0x40004000u)\n"
        "__attribute__((noinline)) void put(int c) { UART0[2] = 1u; UART0[0] = (uint32_t)c; UART0[2] = 1u; }\n"
        "int main(void) { for (int i = 0; i < 37; i++) put('a' + i % 26); return 0; }\n"
    )
    elf = build_elf([src], tmp_path / "uart.elf")
    run = run_with_counts(elf, markers=False)
    assert run.exit_code == 0
    put = read_elf_symbols(elf).get("put")
    inside = {a: n for a, n in run.counts.per_address.items() if put.addr <= a < put.end}
    assert inside and set(inside.values()) == {37}
    assert "abcdefghijklmnopqrstuvwxyzabcdefghijk" in run.stdout


def test_qemu_rejects_a_bad_plugin_argument(tmp_path, qemu_arm):
    elf = build_microbenchmark(_bench("alu"), tmp_path)
    proc = subprocess.run([qemu_binary(), "-M", "mps2-an386", "-nographic", "-monitor", "none", "-kernel", str(elf),
                           "-plugin", f"{plugin_path()},bogus=1"], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "unknown argument 'bogus=1'" in proc.stdout + proc.stderr
    proc = subprocess.run([qemu_binary(), "-M", "mps2-an386", "-nographic", "-monitor", "none", "-kernel", str(elf),
                           "-plugin", f"{plugin_path()},out=x,data_lines=12"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0 and "bad value in 'data_lines=12'" in proc.stdout + proc.stderr


def test_parse_rejects_truncated_output():
    good = ("edge-deploy-insn-count 2\nregion flash 0x00000000 0x00400000\nlines 16 16 16\n"
            "insn 0x00000010 2 0130\nsegment 0 -1\n0x00000010 5\n"
            "mem 0x00000010 flash 5 0 20 0 0 0 0\nreuse 0x00000010 data 0:4,8:1\nreuse 0x00000010 jump 8:1\nend 5\n")
    counts = parse_counts(good)
    assert counts.total == 5 and counts.regions == (("flash", 0, 0x400000),)
    memory = counts.segments[0].memory
    assert memory.accesses[0x10]["flash"].load_bytes == 20
    assert memory.data_reuse[0x10].hits(8) == 4 and memory.fetch_reuse[0x10].jump.total == 1
    assert memory.geometry.data_line_bytes == 16
    with pytest.raises(EdgeDeployError, match="truncated"):
        parse_counts(good.replace("end 5\n", ""))
    with pytest.raises(EdgeDeployError, match="malformed"):
        parse_counts(good.replace("data 0:4,8:1", "data 9:4"))
    with pytest.raises(EdgeDeployError, match="not an insn_count file"):
        parse_counts("hello\n")


def test_plugin_source_ships_in_the_package():
    assert PLUGIN_SOURCE.is_file()
    assert "qemu_plugin_install" in PLUGIN_SOURCE.read_text()
