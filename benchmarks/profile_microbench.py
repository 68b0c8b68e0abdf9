"""Profiler figures: cycle model vs hand counts on the micro-benchmarks, and plugin overhead.

Prints a table and writes benchmarks/results/profile_microbench.json:
  python benchmarks/profile_microbench.py [--iterations 2000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

from edge_deploy.fsutil import atomic_write_json
from edge_deploy.profile.cycle_model import CortexM4Timing, estimate_cycles
from edge_deploy.profile.decode import decode_code
from edge_deploy.profile.elf_symbols import read_elf_symbols
from edge_deploy.profile.microbench import BENCHMARKS, build_microbenchmark
from edge_deploy.profile.qemu_run import qemu_command, run_with_counts

RESULTS = Path(__file__).resolve().parent / "results" / "profile_microbench.json"


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=20_000_000, help="loop passes for the speed run")
    args = parser.parse_args()
    timing = CortexM4Timing()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bench in BENCHMARKS:
            elf = build_microbenchmark(bench, tmp)
            sym = read_elf_symbols(elf)
            lo, hi = sym.get("bench_loop").addr, sym.get("bench_loop_end").addr
            run = run_with_counts(elf, markers=False)
            est = estimate_cycles(decode_code(run.counts.code), run.counts.per_address, timing)
            model = sum(c for a, c in est.cycles.items() if lo <= a < hi)
            insns = sum(n for a, n in run.counts.per_address.items() if lo <= a < hi)
            rows.append({"name": bench.name, "loop_instructions": insns, "model_cycles": model,
                         "hand_cycles": bench.hand_cycles(timing)})
            print(f"{bench.name:26s} instr {insns:7d}  model {model:7d}  hand {bench.hand_cycles(timing):7d}")
        # Plugin overhead: the same long loop with and without the plugin.
        speed = dataclasses.replace(next(b for b in BENCHMARKS if b.name == "s8_mac"), iterations=args.iterations)
        elf = build_microbenchmark(speed, Path(tmp) / "speed")
        plain = [c for c in qemu_command(elf, [f"out={tmp}/x.txt"])]
        cut = plain.index("-plugin")
        without = _timed(plain[:cut] + plain[cut + 2:])
        start = time.perf_counter()
        run = run_with_counts(elf, markers=False, timeout_s=600)
        with_plugin = time.perf_counter() - start
    result = {
        "microbenchmarks": rows,
        "all_match": all(r["model_cycles"] == r["hand_cycles"] for r in rows),
        "speed": {"instructions": run.counts.total, "seconds_without_plugin": round(without, 3),
                  "seconds_with_plugin": round(with_plugin, 3),
                  "mips_with_plugin": round(run.counts.total / with_plugin / 1e6, 1)},
        "timing": dataclasses.asdict(timing),
    }
    print(f"speed: {run.counts.total:,} instructions, {without:.2f} s without the plugin, "
          f"{with_plugin:.2f} s with it ({result['speed']['mips_with_plugin']} MIPS)")
    atomic_write_json(RESULTS, result)


if __name__ == "__main__":
    main()
