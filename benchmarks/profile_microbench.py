"""Profiler figures: cycle model vs hand counts on the micro-benchmarks, and plugin overhead.

Prints a table and writes benchmarks/results/profile_microbench.json:
  python benchmarks/profile_microbench.py [--iterations 20000000]

Core micro-benchmarks at the default model (P = 2, divide 7, zero wait states); flash ones at
each flash timing their hand count is written for (STM32F4 ART at 5 wait states, prefetch only,
a plain flash). Speed: a long s8 MAC loop without the plugin, with it (instruction and access
counts), and with it measuring flash line reuse too.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

from provenance import source_state

from edge_deploy.boards import load_board
from edge_deploy.fsutil import atomic_write_json
from edge_deploy.profile.cycle_model import CortexM4Timing, estimate_cycles
from edge_deploy.profile.decode import decode_code
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.memory_map import memory_layout
from edge_deploy.profile.microbench import build_microbenchmark
from edge_deploy.profile.microbench_cases import ART_F4, BENCHMARKS, CORE_BENCHMARKS, FLASH_TIMINGS
from edge_deploy.profile.qemu_run import qemu_command, run_with_counts

RESULTS = Path(__file__).resolve().parent / "results" / "profile_microbench.json"


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def _measure(bench, tmp: str, flash_layout) -> list[dict]:
    elf = build_microbenchmark(bench, tmp)
    sym = read_elf_symbols(elf)
    ranges = [(sym.get(a).addr, sym.get(b).addr) for a, b in (("bench_loop", "bench_loop_end"),
                                                               ("bench_after", "bench_after_end"))]
    core = bench in CORE_BENCHMARKS
    run = run_with_counts(elf, markers=False, layout=None if core else flash_layout)
    seg = run.counts.segments[0]
    insns = decode_code(run.counts.code)
    inside = [a for a in seg.counts if any(lo <= a < hi for lo, hi in ranges)]
    cases = [("zero-wait", CortexM4Timing(), bench.hand_cycles(CortexM4Timing()))]
    cases += [(name, CortexM4Timing(flash=FLASH_TIMINGS[name]), hand) for name, hand in bench.flash_cycles.items()]
    rows = []
    for name, timing, hand in cases:
        est = estimate_cycles(insns, seg.counts, timing, seg.memory)
        model = sum(est.cycles[a] for a in inside)
        rows.append({"name": bench.name, "timing": name, "loop_instructions": sum(seg.counts[a] for a in inside),
                     "model_cycles": model, "hand_cycles": hand})
        print(f"{bench.name:28s} {name:14s} instr {rows[-1]['loop_instructions']:7d}  model {model:7d}  hand {hand:7d}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20_000_000, help="loop passes for the speed run")
    args = parser.parse_args()
    layout = memory_layout(load_board("mps2-an386"), ART_F4)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bench in BENCHMARKS:
            rows += _measure(bench, tmp, layout)
        # Plugin overhead: the same long loop without the plugin, with it, with line reuse too.
        speed = dataclasses.replace(next(b for b in BENCHMARKS if b.name == "s8_mac"), iterations=args.iterations)
        elf = build_microbenchmark(speed, Path(tmp) / "speed")
        plain = qemu_command(elf, [f"out={tmp}/x.txt"])
        cut = plain.index("-plugin")
        without = _timed(plain[:cut] + plain[cut + 2:])
        seconds = {}
        for name, run_layout in (("counts", None), ("counts_and_reuse", layout)):
            start = time.perf_counter()
            run = run_with_counts(elf, markers=False, timeout_s=600, layout=run_layout)
            seconds[name] = time.perf_counter() - start
    total = run.counts.total
    result = {
        "microbenchmarks": rows,
        "all_match": all(r["model_cycles"] == r["hand_cycles"] for r in rows),
        "speed": {"instructions": total, "seconds_without_plugin": round(without, 3),
                  **{f"seconds_with_{k}": round(v, 3) for k, v in seconds.items()},
                  **{f"mips_with_{k}": round(total / v / 1e6, 1) for k, v in seconds.items()}},
        "source": source_state(),
    }
    print(f"speed: {total:,} instructions, {without:.2f} s without the plugin, "
          + ", ".join(f"{v:.2f} s with {k} ({total / v / 1e6:.0f} MIPS)" for k, v in seconds.items()))
    print("all match" if result["all_match"] else "MISMATCH")
    atomic_write_json(RESULTS, result)


if __name__ == "__main__":
    main()
