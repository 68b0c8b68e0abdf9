"""Benchmark: every TensorFlow-converted model of tests/data/tflite/ (issue 12's ops included)
built for QEMU mps2-an386 and run over the serial link on many inputs.

    python benchmarks/ops_fixtures.py [--samples 100] [--work /tmp/edge-deploy-ops-fixtures]
                                      [--out benchmarks/results/ops_fixtures.json] [--markdown]

Per model, the real CLI as subprocesses: ``edge-deploy build MODEL --board mps2-an386``,
``edge-deploy run DIR --inputs X --check`` (the firmware against the reference interpreter with
TFLM / CMSIS-NN rounding, bit for bit; float32 interfaces compared as float32 bits) and
``edge-deploy profile DIR --json`` (exact executed instructions of one inference); and in process
the interpreter under its ``litert`` policy against ai-edge-litert's reference kernels on the same
inputs, every tensor. Reports the mismatches, flash, arena (and its lower bound) and
instructions per model. Exits 1 if any mismatch was found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state
from tflite_parity import sample_batch

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "data" / "tflite"


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True)


def measure(path: Path, samples: int, work: Path) -> dict:
    """Build, run, check and profile one model; its row (or the reason it failed)."""
    from edge_deploy.interp.interpreter import run_graph
    from edge_deploy.tflite import load_tflite
    from edge_deploy.tflite.oracle import run_litert

    started = time.monotonic()
    out = work / path.stem
    graph = load_tflite(path)
    batch = sample_batch(graph, samples, seed=12)
    np.save(work / f"{path.stem}.npy", batch)
    names = graph.activations()
    ours = run_graph(graph, batch, rounding="litert", keep_all=True)
    theirs = run_litert(path.read_bytes(), batch, names)
    litert = sum(int(np.sum(ours[n].view(np.uint8) != theirs[n].view(np.uint8))) for n in names)
    row = {"model": path.stem, "ops": sorted({op.kind for op in graph.ops}), "samples": samples,
           "interface": graph.tensor(graph.inputs[0]).dtype, "litert_mismatched_elements": litert,
           "litert_elements": int(sum(theirs[n].size for n in names))}
    for step in (["build", str(path), "--board", "mps2-an386", "--out", str(out)],
                 ["run", str(out), "--inputs", str(work / f"{path.stem}.npy"), "--out", str(work / f"{path.stem}.y.npy"),
                  "--check"]):
        done = _cli(step)
        if done.returncode != 0 and not (step[0] == "run" and (out / "check.json").is_file()):
            return {**row, "failed": f"{step[0]}: " + (done.stderr or done.stdout).strip()[-400:]}
    check = json.loads((out / "check.json").read_text())
    profile = _cli(["profile", str(out), "--json"])
    if profile.returncode != 0:
        return {**row, "failed": "profile: " + profile.stderr.strip()[-400:]}
    report, prof = json.loads((out / "report.json").read_text()), json.loads(profile.stdout)
    kernels = sorted({layer["kernel"] for layer in report["layers"] if layer.get("kernel")})
    return {**row, "qemu_mismatches": check["mismatches"], "qemu_outputs": check["n"],
            "flash_bytes": report["flash_bytes"], "arena_bytes": report["arena_bytes"],
            "arena_lower_bound_bytes": report["arena_lower_bound_bytes"], "macs": prof["macs"],
            "instructions": prof["instructions"], "kernels": kernels, "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-ops-fixtures"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ops_fixtures.json")
    parser.add_argument("--markdown", action="store_true", help="also print the table of docs/benchmarks.md")
    args = parser.parse_args(argv)
    from edge_deploy.fsutil import atomic_write_json

    args.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows = [measure(path, args.samples, args.work) for path in sorted(FIXTURES.glob("*.tflite"))]
    results = {"command": "python benchmarks/ops_fixtures.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               **source_state("sdk", "firmware", "templates", "benchmarks/ops_fixtures.py", "tests/data/tflite"),
               "board": "mps2-an386", "models": rows, "seconds": round(time.time() - started, 1)}
    print(f"{'model':<20} {'in':>7} {'QEMU mism.':>11} {'litert mism.':>13} {'flash B':>9} {'arena B':>8} "
          f"{'(bound)':>8} {'instructions':>13}")
    for row in rows:
        if "failed" in row:
            print(f"{row['model']:<20} FAILED {row['failed']}")
            continue
        print(f"{row['model']:<20} {row['interface']:>7} {row['qemu_mismatches']:>5}/{row['qemu_outputs']:<5} "
              f"{row['litert_mismatched_elements']:>13} {row['flash_bytes']:>9,} {row['arena_bytes']:>8,} "
              f"{row['arena_lower_bound_bytes']:>8,} {row['instructions']:>13,}")
    if args.markdown:
        print("\n| model | interface | ops | QEMU mismatches | litert mismatches (elements) | flash B | arena B "
              "(lower bound) | MACs | instructions |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            if "failed" not in row:
                print(f"| {row['model']} | {row['interface']} | {len(row['ops'])} | {row['qemu_mismatches']} of "
                      f"{row['qemu_outputs']} | {row['litert_mismatched_elements']} of {row['litert_elements']:,} | "
                      f"{row['flash_bytes']:,} | {row['arena_bytes']:,} ({row['arena_lower_bound_bytes']:,}) | "
                      f"{row['macs']:,} | {row['instructions']:,} |")
    atomic_write_json(args.out, results)
    print(f"commit {results['commit']}; wrote {args.out}")
    bad = any("failed" in r or r["qemu_mismatches"] or r["litert_mismatched_elements"] for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
