"""MLPerf Tiny's four reference models on the NUCLEO-L4R5ZI's memory timing, modelled.

    python benchmarks/mlperf_timing.py [--models A.tflite B.tflite ...] [--board nucleo-l4r5zi]
                                       [--work /tmp/edge-deploy-mlperf] [--out benchmarks/results/mlperf_timing.json]
                                       [--markdown]

For each model (default: the four of ../shared/data/mlperf_tiny), the real CLI runs as a
subprocess:

  edge-deploy build MODEL --board BOARD --out DIR
  edge-deploy profile DIR --timing mps2-an386 --json    (the same run, code and data at 0 wait states)
  edge-deploy profile DIR --timing BOARD --json         (BOARD's flash: 5 wait states behind the ART)

and prints per model: MACs, instructions, modelled cycles at 0 wait states and with BOARD's timing
(P = 1..3 beside it), the flash stalls (fetch, data), the bytes read from flash, ms at BOARD's
clock (120 MHz) and the published silicon latencies of the same model on the same board
(MLPerf Tiny closed division, ../shared/data/mlperf_tiny/README.md); per layer: cycles both ways
and flash bytes. Fails if a layer's cycles with wait states are below its 0-wait-state cycles.
A model that does not load or build is reported with the reason and skipped; the exit status is
0 if at least one model was measured (2 if none could be).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from provenance import source_state
from shared_data import MLPERF

REPO = Path(__file__).resolve().parent.parent
MODELS = ("vww_96_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite")
# ms per inference on NUCLEO-L4R5ZI at 120 MHz, median of the submitters' runs
# (../shared/data/mlperf_tiny/README.md: mlcommons/tiny_results_v0.5 ... v1.3).
PUBLISHED_MS = {
    "vww_96_int8": {"tflm-cmsis-nn": 600.6, "x-cube-ai-9.0": 88.9},
    "kws_ref_model": {"tflm-cmsis-nn": 181.9, "x-cube-ai-9.0": 43.2},
    "pretrainedResnet_quant": {"tflm-cmsis-nn": 704.2, "x-cube-ai-9.0": 165.1},
    "ad01_int8": {"tflm-cmsis-nn": 10.05, "x-cube-ai-9.0": 5.26},
}
ZERO_WAIT_BOARD = "mps2-an386"   # its board file has no flash: block: zero-wait code and data


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True)


def _flash_bytes(layer: dict) -> int:
    return layer["memory"].get("flash", {}).get("load_bytes", 0)


def measure(model: Path, board: str, work: Path) -> dict:
    """Build ``model`` for ``board`` and profile it twice; the row of figures, or the reason."""
    name = model.parent.name if model.suffix == ".pt" else model.stem   # runs/x/model.pt -> x
    out = work / name
    started = time.monotonic()
    built = _cli(["build", str(model), "--board", board, "--out", str(out)])
    if built.returncode != 0:
        return {"model": name, "skipped": (built.stderr or built.stdout).strip().splitlines()[0]}
    profiles = {}
    for timing in (ZERO_WAIT_BOARD, board):
        run = _cli(["profile", str(out), "--timing", timing, "--json"])
        if run.returncode != 0:
            return {"model": name, "skipped": f"profile --timing {timing}: " + run.stderr.strip().splitlines()[0]}
        profiles[timing] = json.loads(run.stdout)
    zero, timed = profiles[ZERO_WAIT_BOARD], profiles[board]
    layers = []
    for z, t in zip(zero["layers"], timed["layers"]):
        if t["cycles"] < z["cycles"]:
            raise SystemExit(f"{name}/{t['name']}: {t['cycles']:,} cycles with wait states < {z['cycles']:,} at 0")
        layers.append({"name": t["name"], "op": t["op"], "macs": t["macs"], "instructions": t["instructions"],
                       "cycles_zero_wait": z["cycles"], "cycles": t["cycles"], "cycles_p1": t["cycles_p1"],
                       "cycles_p3": t["cycles_p3"], "stalls": t["stalls"], "flash_bytes": _flash_bytes(t),
                       "latency_ms": t["latency_ms"]})
    report = json.loads((out / "report.json").read_text())
    return {
        "model": name, "board": board, "timing": timed["timing"], "clock_hz": timed["clock_hz"],
        "macs": timed["macs"], "instructions": timed["instructions"], "cycles_zero_wait": zero["cycles"],
        "cycles": timed["cycles"], "cycles_p1": timed["cycles_p1"], "cycles_p3": timed["cycles_p3"],
        "stalls": timed["stalls"], "flash_bytes": sum(layer["flash_bytes"] for layer in layers),
        "mac_per_cycle": timed["mac_per_cycle"], "latency_ms": timed["latency_ms"],
        "published_ms": PUBLISHED_MS.get(name, {}), "flash_image_bytes": report["flash_bytes"],
        "ram_bytes": report["ram_bytes"], "layers": layers, "seconds": round(time.monotonic() - started, 1),
    }


def _print(rows: list[dict], markdown: bool) -> None:
    for row in rows:
        if "skipped" in row:
            print(f"{row['model']}: skipped: {row['skipped']}")
            continue
        ms = row["latency_ms"]
        print(f"\n{row['model']} on {row['board']} ({row['timing']})")
        print(f"  {row['macs']:,} MACs, {row['instructions']:,} instructions; cycles {row['cycles_zero_wait']:,} at "
              f"0 wait states, {row['cycles']:,} with the board's flash (P = 1..3: {row['cycles_p1']:,}.."
              f"{row['cycles_p3']:,}); stalls {row['stalls']}; {row['flash_bytes']:,} B read from flash; "
              f"{ms:.2f} ms at {row['clock_hz'] / 1e6:g} MHz; published: {row['published_ms']}")
        print(f"  {'layer':28s} {'op':18s} {'MACs':>11s} {'cycles@0ws':>12s} {'cycles':>12s} {'flash B':>10s}")
        for layer in row["layers"]:
            print(f"  {layer['name'][:28]:28s} {layer['op'][:18]:18s} {layer['macs']:11,d} "
                  f"{layer['cycles_zero_wait']:12,d} {layer['cycles']:12,d} {layer['flash_bytes']:10,d}")
    if not markdown:
        return
    print("\n| model | MACs | instructions | cycles, 0 wait states | cycles, L4R5 flash (P = 1..3) | fetch / data "
          "stalls | flash data read B | ms at 120 MHz | X-CUBE-AI 9.0 ms | TFLM + CMSIS-NN ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if "skipped" in row:
            continue
        pub = row["published_ms"]
        print(f"| {row['model']} | {row['macs']:,} | {row['instructions']:,} | {row['cycles_zero_wait']:,} | "
              f"{row['cycles']:,} ({row['cycles_p1']:,}..{row['cycles_p3']:,}) | {row['stalls'].get('fetch', 0):,} / "
              f"{row['stalls'].get('data', 0):,} | {row['flash_bytes']:,} | {row['latency_ms']:.2f} | "
              f"{pub.get('x-cube-ai-9.0', '-')} | {pub.get('tflm-cmsis-nn', '-')} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", type=Path, default=[MLPERF / name for name in MODELS])
    parser.add_argument("--board", default="nucleo-l4r5zi")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-mlperf"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mlperf_timing.json")
    parser.add_argument("--markdown", action="store_true", help="also print the table of docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [measure(model, args.board, args.work) for model in args.models]
    _print(rows, args.markdown)
    measured = [row for row in rows if "skipped" not in row]
    if measured:
        from edge_deploy.fsutil import atomic_write_json

        atomic_write_json(args.out, {"board": args.board, "models": rows, "source": source_state(),
                                     "command": "python benchmarks/mlperf_timing.py " + " ".join(argv or sys.argv[1:])})
        print(f"\nwrote {args.out}")
    return 0 if measured else 2


if __name__ == "__main__":
    sys.exit(main())
