"""The static stack bound against the stack measured on QEMU, on MLPerf Tiny's four models.

    python benchmarks/stack_bound.py [--models A.tflite ...] [--work /tmp/edge-deploy-stack-bound]
                                     [--out benchmarks/results/stack_bound.json] [--markdown]

For each model (default: the four of ../shared/data/mlperf_tiny) the real CLI builds it as a
subprocess twice: for mps2-an386, where QEMU runs it and the build measures the stack's
high-water mark (and records the call graph's static bound beside it), and for nucleo-l4r5zi,
which QEMU cannot run, so the build reserves the static bound + 256 B (docs/build.md, "Stack").
Printed per model: the measured peak, the bound, how far the bound is above the peak, the stack
each build reserves and the L4R5 build's RAM. Exit status 0 when every bound covers its
measured peak, 1 otherwise, 2 when no model could be built.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from provenance import source_state
from shared_data import MLPERF

MODELS = ("vww_96_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite")
MEASURED, STATIC = "mps2-an386", "nucleo-l4r5zi"


def _build(model: Path, board: str, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "edge_deploy", "build", str(model), "--board", board, "--out", str(out),
                           "--json"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[0]}
    return json.loads(done.stdout)


def measure(model: Path, work: Path) -> dict:
    measured = _build(model, MEASURED, work / f"{model.stem}-{MEASURED}")
    static = _build(model, STATIC, work / f"{model.stem}-{STATIC}")
    if "error" in measured or "error" in static:
        return {"model": model.stem, "error": measured.get("error") or static.get("error")}
    peak, bound = measured["stack_peak_bytes"], measured["stack_static_bound_bytes"]
    return {"model": model.stem, "peak": peak, "bound": bound, "bound_over_peak": round(bound / peak, 2),
            "covers": bound >= peak, "stack_measured_build": measured["stack_bytes"],
            "bound_static_build": static["stack_static_bound_bytes"], "stack_static_build": static["stack_bytes"],
            "static_source": static["stack_source"], "board_stack_bytes": static["board_spec"]["stack_bytes"],
            "ram_static_build": static["ram_bytes"], "arena": static["arena_bytes"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", type=Path, default=[MLPERF / name for name in MODELS])
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-stack-bound"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "stack_bound.json")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in args.models:
        if not model.is_file():
            print(f"{model}: not found (set EDGE_DEPLOY_MLPERF_TINY or pass --models)")
            continue
        row = measure(model, args.work)
        rows.append(row)
        if "error" in row:
            print(f"{row['model']}: {row['error']}")
            continue
        print(f"{row['model']}: measured peak {row['peak']} B on QEMU, static bound {row['bound']} B "
              f"({row['bound_over_peak']}x); reserved {row['stack_measured_build']} B on {MEASURED}, "
              f"{row['stack_static_build']} B on {STATIC} (board file: {row['board_stack_bytes']} B), "
              f"{STATIC} RAM {row['ram_static_build']:,} B")
    done = [r for r in rows if "error" not in r]
    if args.markdown and done:
        print(f"\n| model | measured peak ({MEASURED}) | static bound | bound / peak | stack reserved, {MEASURED} "
              f"| stack reserved, {STATIC} (board file) | RAM, {STATIC} |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in done:
            print(f"| {r['model']} | {r['peak']:,} | {r['bound']:,} | {r['bound_over_peak']} | "
                  f"{r['stack_measured_build']:,} | {r['stack_static_build']:,} ({r['board_stack_bytes']:,}) | "
                  f"{r['ram_static_build']:,} |")
    from edge_deploy.fsutil import atomic_write_json

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, {"models": rows, "source": source_state("sdk/edge_deploy/toolchain", "firmware"),
                                 "command": "python benchmarks/stack_bound.py " + " ".join(argv or sys.argv[1:])})
    if not done:
        return 2
    return 0 if all(r["covers"] for r in done) else 1


if __name__ == "__main__":
    sys.exit(main())
