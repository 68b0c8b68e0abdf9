"""MLPerf Tiny's four reference models (and the .tflite fixtures) as firmware for mps2-an386 on QEMU:
bit-exactness over many inputs in both roundings, flash, arena, instructions, and upstream
CMSIS-NN's instructions on the same models.

    python benchmarks/mlperf_models.py [--cmsis-nn PATH ...] [--inputs 100] [--models A.tflite ...]
                                       [--work /tmp/edge-deploy-mlperf-models]
                                       [--out benchmarks/results/mlperf_models.json] [--markdown]

For each model (default: the four of ../shared/data/mlperf_tiny or $EDGE_DEPLOY_MLPERF_TINY, then tests/data/tflite/*.tflite),
through the real CLI (a subprocess each):

  edge-deploy build MODEL --board mps2-an386 --out D/edge-deploy
  edge-deploy run D/edge-deploy --inputs x.npy --out y.npy --check     (interpreter, double rounding)
  edge-deploy profile D/edge-deploy --json                             (exact instructions, QEMU plugin)
  edge-deploy build MODEL ... --rounding litert --out D/litert, run --check (interpreter, litert policy),
      and its outputs against ai-edge-litert's reference kernels (OpResolverType.BUILTIN_REF)
  for each --cmsis-nn PATH (default: $EDGE_DEPLOY_CMSIS_NN, ':'-separated):
      edge-deploy build MODEL ... --cmsis-nn PATH, run --check, profile

``x.npy`` holds ``--inputs`` pseudo-random int8 inputs (seed 0; the MLPerf data sets are not here).
Writes JSON and prints a table (``--markdown``: the docs table). Exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state
from shared_data import MLPERF

REPO = Path(__file__).resolve().parent.parent
MLPERF_MODELS = ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8")
BOARD = "mps2-an386"


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"edge-deploy {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _checkout_name(path: str) -> str:
    return Path(path).resolve().name


def _config(model: Path, out: Path, batch_file: Path, extra: list[str], profile: bool) -> dict:
    started = time.monotonic()
    _cli("build", str(model), "--board", BOARD, "--out", str(out), *extra)
    built = time.monotonic() - started
    _cli("run", str(out), "--inputs", str(batch_file), "--out", str(out / "y.npy"), "--check")
    report = json.loads((out / "report.json").read_text())
    check = json.loads((out / "check.json").read_text())
    row = {"flash_bytes": report["flash_bytes"], "weights_bytes": report["weights_bytes"],
           "arena_bytes": report["arena_bytes"], "arena_lower_bound_bytes": report["arena_lower_bound_bytes"],
           "macs": report["macs"], "rounding": report["rounding"], "mismatches": check["mismatches"],
           "inputs": check["n"], "build_s": round(built, 1),
           "fallback_layers": (report.get("cmsis_nn") or {}).get("fallback_layers", [])}
    if profile:
        prof = json.loads(_cli("profile", str(out), "--json"))
        row.update(instructions=prof["instructions"], cycles=prof["cycles"])
    return row


def measure(model: Path, work: Path, n: int, checkouts: list[str]) -> dict:
    """Every configuration of ``model``: the row of figures."""
    from edge_deploy.tflite import load_tflite
    from edge_deploy.tflite.oracle import run_litert

    out = work / model.stem
    out.mkdir(parents=True, exist_ok=True)
    graph = load_tflite(model)
    shape = graph.tensor(graph.inputs[0]).shape[1:]
    batch = np.random.default_rng(0).integers(-128, 128, (n, *shape), dtype=np.int8)
    batch_file = out / "x.npy"
    np.save(batch_file, batch)
    row = {"model": model.stem, "macs": None, "configs": {}}
    row["configs"]["edge-deploy"] = _config(model, out / "edge-deploy", batch_file, [], True)
    litert = _config(model, out / "litert", batch_file, ["--rounding", "litert"], False)
    oracle = next(iter(run_litert(model.read_bytes(), batch).values()))
    firmware = np.load(out / "litert" / "y.npy")
    litert["litert_oracle_mismatches"] = int((firmware.reshape(n, -1) != oracle.reshape(n, -1)).any(axis=1).sum())
    default = np.load(out / "edge-deploy" / "y.npy")
    litert["default_vs_oracle_mismatches"] = int((default.reshape(n, -1) != oracle.reshape(n, -1)).any(axis=1).sum())
    litert["default_vs_oracle_elements"] = float((default.reshape(n, -1) != oracle.reshape(n, -1)).mean())
    row["configs"]["litert"] = litert
    for path in checkouts:
        name = f"cmsis-nn {_checkout_name(path)}"
        row["configs"][name] = _config(model, out / name.replace(" ", "-"), batch_file, ["--cmsis-nn", path], True)
    row["macs"] = row["configs"]["edge-deploy"]["macs"]
    return row


def _bad(row: dict) -> list[str]:
    bad = [f"{row['model']} {name}: {c['mismatches']} mismatches" for name, c in row["configs"].items() if c["mismatches"]]
    if row["configs"]["litert"]["litert_oracle_mismatches"]:
        bad.append(f"{row['model']} litert: {row['configs']['litert']['litert_oracle_mismatches']} differ from ai-edge-litert")
    return bad


def markdown(rows: list[dict], checkouts: list[str]) -> str:
    """The docs table."""
    names = [f"cmsis-nn {_checkout_name(p)}" for p in checkouts]
    head = ["model", "MACs", "flash B", "arena B (lower bound)", "instructions"] + \
        [f"instr. {n.split()[1]} (x)" for n in names] + ["mismatches: interp. / litert build vs ai-edge-litert",
                                                         "default build vs ai-edge-litert"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ours = row["configs"]["edge-deploy"]
        lit = row["configs"]["litert"]
        cells = [row["model"], f"{row['macs']:,}", f"{ours['flash_bytes']:,}",
                 f"{ours['arena_bytes']:,} ({ours['arena_lower_bound_bytes']:,})", f"{ours['instructions']:,}"]
        for n in names:
            up = row["configs"][n]
            cells.append(f"{up['instructions']:,} ({up['instructions'] / ours['instructions']:.2f}x)")
        cells.append(f"{ours['mismatches']} / {lit['litert_oracle_mismatches']} of {ours['inputs']}")
        cells.append(f"{lit['default_vs_oracle_mismatches']} of {ours['inputs']} "
                     f"({100 * lit['default_vs_oracle_elements']:.0f} % of outputs)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmsis-nn", action="append", default=None, help="an upstream CMSIS-NN checkout (repeatable)")
    parser.add_argument("--inputs", type=int, default=100)
    parser.add_argument("--models", nargs="*", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-mlperf-models"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mlperf_models.json")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    checkouts = args.cmsis_nn if args.cmsis_nn is not None else \
        [p for p in os.environ.get("EDGE_DEPLOY_CMSIS_NN", "").split(os.pathsep) if p]
    models = args.models or [MLPERF / f"{m}.tflite" for m in MLPERF_MODELS] + sorted((REPO / "tests" / "data" / "tflite").glob("*.tflite"))
    rows, bad = [], []
    for model in models:
        started = time.monotonic()
        row = measure(model, args.work, args.inputs, checkouts)
        rows.append(row)
        bad += _bad(row)
        print(f"{row['model']}: {time.monotonic() - started:.0f} s "
              + json.dumps({k: {f: c.get(f) for f in ('instructions', 'mismatches', 'flash_bytes')}
                            for k, c in row["configs"].items()}), flush=True)
    from edge_deploy.fsutil import atomic_write_json

    atomic_write_json(args.out, {"board": BOARD, "inputs": args.inputs, "checkouts": checkouts, "models": rows,
                                 "source": source_state("sdk", "firmware", "templates")})
    table = markdown(rows, checkouts)
    print(table if args.markdown else f"wrote {args.out}")
    for line in bad:
        print("MISMATCH", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
