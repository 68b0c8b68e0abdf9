"""Benchmark: mutated .tflite files through load, inspect, infer, plan, render (and some builds).

    python benchmarks/fuzz_tflite.py [--mutants 10000] [--seed 1] [--compile-every 500]
                                     [--models A.tflite ...] [--memory-gb 4]
                                     [--out benchmarks/results/fuzz_tflite.json]

The seed models are the int8 fixtures of tests/data/tflite (or --models); the mutants and the
contract are edge_deploy.testing.fuzz's: every mutant is refused with an EdgeDeployError or goes
through every stage, and the accepted ones that are built (every --compile-every-th) compile and
link. The process runs under an address-space limit (--memory-gb) so that a mutant that would
allocate without bound is a MemoryError failure, not a machine out of memory. Prints the counts
per stage and every failure with its traceback; writes JSON with the commit. Exit status 1 when
any mutant failed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compile-every", type=int, default=500, help="build every Nth mutant that renders (0: none)")
    parser.add_argument("--models", nargs="+", type=Path,
                        default=sorted((REPO / "tests" / "data" / "tflite").glob("*.tflite")))
    parser.add_argument("--memory-gb", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fuzz_tflite.json")
    args = parser.parse_args()

    limit = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from edge_deploy.testing.fuzz import fuzz

    seeds = {p.stem: p.read_bytes() for p in args.models}
    start = time.perf_counter()

    def progress(index: int, outcome) -> None:
        if outcome.failure is not None:
            print(f"FAILED {index}: {outcome.label}\n{outcome.failure}", flush=True)
        elif (index + 1) % 1000 == 0:
            print(f"{index + 1} mutants, {time.perf_counter() - start:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="edge-deploy-fuzz-") as work:
        summary = fuzz(seeds, args.mutants, seed=args.seed, compile_every=args.compile_every,
                       compile_dir=Path(work), progress=progress)
    seconds = time.perf_counter() - start
    slowest = summary.slowest
    print(f"{summary.mutants} mutants of {len(seeds)} models in {seconds:.0f} s: "
          + ", ".join(f"{n} {stage}" for stage, n in sorted(summary.stages.items()))
          + f"; {len(summary.failures)} failures")
    if slowest is not None:
        print(f"slowest mutant: {slowest.seconds:.2f} s ({slowest.stage}; {slowest.label})")
    data = {
        "benchmark": "fuzz_tflite",
        "command": "python benchmarks/fuzz_tflite.py " + " ".join(sys.argv[1:]),
        "mutants": summary.mutants,
        "seed": args.seed,
        "models": sorted(seeds),
        "stages": summary.stages,
        "failures": [{"label": f.label, "traceback": f.failure} for f in summary.failures],
        "seconds": round(seconds, 1),
        "slowest": None if slowest is None else {"label": slowest.label, "seconds": round(slowest.seconds, 3),
                                                  "stage": slowest.stage},
        **source_state("sdk/edge_deploy", "templates", "firmware"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
