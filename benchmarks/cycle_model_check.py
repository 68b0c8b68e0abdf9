"""The cycle model against DWT CYCCNT on an attached board, per layer.

    python benchmarks/cycle_model_check.py BUILD_DIR --port /dev/ttyACM0 [--board nucleo-l4r5zi] [--runs 5]
                                          [--out benchmarks/results/cycle_model_check.json]

BUILD_DIR is an `edge-deploy build` for the board, whose firmware.elf is flashed and running
(`edge-deploy flash BUILD_DIR`). The same build is profiled twice through the real CLI code:

* on the board over the serial link: each layer's DWT cycles, the minimum over --runs inferences
  (the firmware runs at the board file's clock, flash wait states and ART settings, which the
  runtime sets at reset and INFO reports);
* on QEMU with the cycle model and the board's memory timing (`edge-deploy profile BUILD_DIR
  --timing BOARD`): exact instructions and accesses, modelled cycles at P = 2 and P = 1..3.

Printed and written per layer: DWT cycles, modelled cycles, the P range, the error
(model / DWT - 1), and whether DWT lies inside the P range. Without --port there is nothing to
measure against: it says so and exits 0 (no board is attached where the tests run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent


def compare(build_dir: Path, port: str, board: str | None, runs: int) -> dict:
    """Profile ``build_dir`` on the board at ``port`` and with the model; the per-layer comparison."""
    from edge_deploy.boards import board_from_report
    from edge_deploy.build.firmware_build import load_build_report
    from edge_deploy.check import profile_build

    report = load_build_report(build_dir)
    board = board or board_from_report(report).name
    measured = profile_build(build_dir, port=port, runs=runs)
    if measured["unit"] != "cycles":
        raise SystemExit(f"the device at {port} counts {measured['source']} ticks, not DWT cycles: "
                         "a board with a DWT is needed")
    if measured["clock"] != "full":
        print(f"warning: the firmware reports clock={measured['clock']} at {measured['clock_hz']:,} Hz, not the "
              "board file's full clock; the model assumes the board file's flash settings", file=sys.stderr)
    modelled = profile_build(build_dir, timing=board)
    layers = []
    for dwt, model in zip(measured["layers"], modelled["layers"]):
        error = model["cycles"] / dwt["cycles"] - 1 if dwt["cycles"] else None
        layers.append({"name": dwt["name"], "op": dwt["op"], "dwt_cycles": dwt["cycles"],
                       "dwt_cycles_max": dwt["cycles_max"], "model_cycles": model["cycles"],
                       "model_p1": model["cycles_p1"], "model_p3": model["cycles_p3"],
                       "instructions": model["instructions"], "stalls": model["stalls"],
                       "error": round(error, 4) if error is not None else None,
                       "within_p_range": model["cycles_p1"] <= dwt["cycles"] <= model["cycles_p3"]})
    total_dwt = sum(layer["dwt_cycles"] for layer in layers)
    return {"build": str(build_dir), "board": board, "port": port, "runs": runs,
            "device_clock": {"clock": measured["clock"], "clock_hz": measured["clock_hz"]},
            "timing": modelled["timing"], "cycle_model": modelled["cycle_model"],
            "dwt_cycles": total_dwt, "model_cycles": modelled["cycles"],
            "error": round(modelled["cycles"] / total_dwt - 1, 4) if total_dwt else None,
            "layers": layers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", type=Path, help="an edge-deploy build folder whose firmware runs on the board")
    parser.add_argument("--port", help="serial port (device path or pyserial URL) of the board")
    parser.add_argument("--board", help="board file for the model's memory timing (default: the build's)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cycle_model_check.json")
    args = parser.parse_args(argv)
    if args.port is None:
        print("skipped: no board attached (pass --port with the serial port of a board running the build's "
              "firmware: edge-deploy flash BUILD_DIR first)")
        return 0
    result = compare(args.build, args.port, args.board, args.runs)
    print(f"{result['board']}: {result['timing']}; device clock {result['device_clock']}")
    print(f"{'layer':24s} {'DWT':>12s} {'model':>12s} {'P=1..3':>25s} {'error':>8s}")
    for layer in result["layers"]:
        error = f"{layer['error']:+.1%}" if layer["error"] is not None else "-"
        print(f"{layer['name'][:24]:24s} {layer['dwt_cycles']:12,d} {layer['model_cycles']:12,d} "
              f"{layer['model_p1']:>12,d}..{layer['model_p3']:<12,d} {error:>8s}")
    print(f"{'total':24s} {result['dwt_cycles']:12,d} {result['model_cycles']:12,d} "
          f"{'':25s} {result['error']:+.1%}")
    from edge_deploy.fsutil import atomic_write_json

    atomic_write_json(args.out, {**result, "source": source_state()})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
