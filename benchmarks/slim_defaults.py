"""Benchmark: ``edge-deploy slim`` with its defaults only (no config, no knob), as a new user runs it.

    python benchmarks/slim_defaults.py [--model runs/ticnn/model.pt] [--work runs/slim_defaults]
                                       [--methods scalpel,slimming] [--workers N] [--board mps2-an386]
                                       [--data ../shared/data/cwru] [--out benchmarks/results/slim_defaults.json]

Without --model it first trains TICNN on the bundled excerpt (``edge-deploy train
examples/ticnn_cwru.yaml``). Then, per method, ``edge-deploy slim MODEL -m METHOD --out DIR``:
the search over the method's knob for the largest MAC saving within the default budget (0.5
validation points). The dense model and every result are built for the board (default build
options) and one inference is profiled on QEMU (exact instructions, modelled cycles). Reported:
MACs, instructions and cycles against the dense build, float test accuracy with its 95 %
interval (the checkpoint's test split), int8 test accuracy (reference interpreter), and, with
the full CWRU folder present, float accuracy on its 0 HP test split (never seen by a model trained
on the excerpt). Prints a table and writes every figure to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent


def edge_deploy(*args: str) -> tuple[int, float]:
    """Run the CLI (this interpreter's package); return the exit code and seconds."""
    started = time.time()
    code = subprocess.call([sys.executable, "-m", "edge_deploy", *args])
    return code, round(time.time() - started, 1)


def firmware(model: Path, board: str, build_dir: Path) -> dict[str, int]:
    from edge_deploy.check import firmware_figures

    return firmware_figures(model, board, build_dir)


def accuracies(model: Path, full_data: str | None) -> dict[str, float]:
    """int8 test accuracy of member 0 (checkpoint's own split), and float accuracy on the full
    folder's 0 HP test split when given."""
    from edge_deploy.quantize.pipeline import compare_accuracy, quantize_checkpoint
    from edge_deploy.train.checkpoint import load_checkpoint
    from edge_deploy.train.evaluate import evaluate_checkpoint

    checkpoint = load_checkpoint(model)
    quantized = quantize_checkpoint(checkpoint)
    found = {"int8_test_accuracy": 100.0 * compare_accuracy(checkpoint, quantized.graph, split="test")["int8_accuracy"]}
    if full_data:
        metrics = evaluate_checkpoint(checkpoint, data=full_data, load_hp=[0], split="test", snr_db=())
        found.update(full_test_accuracy=100.0 * metrics["accuracy"], full_test_windows=metrics["n_windows"])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a trained TICNN model.pt (default: train one on the bundled excerpt)")
    parser.add_argument("--work", default=str(REPO / "runs" / "slim_defaults"))
    parser.add_argument("--methods", default="scalpel,slimming")
    parser.add_argument("--workers", help="edge-deploy slim --workers (default: its own, one per core)")
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"),
                        help="full CWRU folder for the extra test split ('' = skip)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "slim_defaults.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from edge_deploy.fsutil import atomic_write_json

    work = Path(args.work)
    full = args.data if args.data and Path(args.data, "load_0hp").is_dir() else None
    started = time.time()
    results: dict = {"command": "python benchmarks/slim_defaults.py " + " ".join(sys.argv[1:] if argv is None else argv),
                     **source_state("benchmarks/slim_defaults.py", "sdk/edge_deploy/slim", "examples")}
    model = Path(args.model) if args.model else work / "dense" / "model.pt"
    if args.model is None and not model.is_file():
        code, seconds = edge_deploy("train", str(REPO / "examples" / "ticnn_cwru.yaml"), "--out", str(model.parent),
                                    "--quiet")
        if code:
            return code
        results["train_seconds"] = seconds
    results["model"] = str(model)
    dense = {**firmware(model, args.board, work / "dense_build"), **accuracies(model, full)}
    results["dense"] = dense
    print(f"dense: {dense}", flush=True)
    for method in [m for m in args.methods.split(",") if m]:
        out = work / method
        extra = ["--workers", args.workers] if args.workers else []
        code, seconds = edge_deploy("slim", str(model), "-m", method, "--out", str(out), *extra)
        row: dict = {"exit_code": code, "seconds": seconds,
                     "command": f"edge-deploy slim {model} -m {method} --out {out} {' '.join(extra)}".strip()}
        if code == 0:
            report = json.loads((out / "slim.json").read_text())
            row["report"] = report
            row.update(firmware(out / "model.pt", args.board, work / f"{method}_build"), **accuracies(out / "model.pt", full))
            row["macs_ratio"] = report["macs_before"] / report["macs_after"]
            row["instructions_ratio"] = dense["instructions"] / row["instructions"]
            row["cycles_ratio"] = dense["cycles"] / row["cycles"]
            row["test_loss"] = report["accuracy_before"] - report["accuracy_after"]
            print(f"{method}: chose {report['search'][method]['chosen']}, MACs {row['macs_ratio']:.2f}x fewer, "
                  f"instructions {row['instructions']:,} ({row['instructions_ratio']:.2f}x fewer), cycles "
                  f"{row['cycles_ratio']:.2f}x fewer, test {report['accuracy_before']:.2f} -> {report['accuracy_after']:.2f} % "
                  f"(CI {report['accuracy_ci_after']}), int8 {row['int8_test_accuracy']:.2f} % "
                  f"(dense {dense['int8_test_accuracy']:.2f}), {seconds} s", flush=True)
        results[method] = row
    results["seconds"] = round(time.time() - started, 1)
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
