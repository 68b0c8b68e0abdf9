"""Benchmark: a torchvision-style MobileNetV2 (width 0.35, 96 x 96, random weights) from
``torch.export`` to firmware on QEMU.

    python benchmarks/pt2_mobilenetv2.py [--samples 200] [--calib 256] [--board mps2-an386]
                                         [--work runs/pt2_mobilenetv2] [--out benchmarks/results/pt2_mobilenetv2.json]

The network is examples/byo_pytorch/mobilenet_v2.py (torchvision's MobileNetV2 layers and
initialization, 10 classes; torchvision itself is not needed), seeded, exported with
``torch.export`` and saved as a ``.pt2``. Calibration: --calib samples of N(0, 1) noise; the
comparison: --samples further samples of the same distribution. Prints and writes the float
(the exported program) vs int8 (reference interpreter) top-1 agreement, then builds the ``.pt2``
for --board with ``edge-deploy build`` and runs the --samples inputs on QEMU with
``edge-deploy run --check`` (firmware outputs against the interpreter).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="held-out inputs compared (and run on QEMU)")
    parser.add_argument("--calib", type=int, default=256, help="calibration inputs")
    parser.add_argument("--board", default="mps2-an386", help="board built and run on QEMU ('' = skip)")
    parser.add_argument("--work", default=str(REPO / "runs" / "pt2_mobilenetv2"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pt2_mobilenetv2.json"))
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "examples" / "byo_pytorch"))
    from mobilenet_v2 import mobilenet_v2

    from edge_deploy.cli import main as cli
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.exported import compare_program, load_program, quantize_program

    started = time.time()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = mobilenet_v2(width_mult=0.35, num_classes=10).eval()
    pt2 = work / "mobilenetv2.pt2"
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3, 96, 96),)), pt2)
    rng = np.random.default_rng(0)
    np.save(work / "calib.npy", rng.standard_normal((args.calib, 3, 96, 96)).astype(np.float32))
    x = rng.standard_normal((args.samples, 3, 96, 96)).astype(np.float32)
    np.save(work / "x.npy", x)

    program = load_program(pt2)
    quantized = quantize_program(program, work / "calib.npy", name="mobilenetv2", count=args.calib)
    comparison = compare_program(program, quantized.graph, x)
    print(f"MobileNetV2 0.35, 96x96: float vs int8 top-1 agreement on {comparison['samples']} held-out inputs: "
          f"{100 * comparison['agreement']:.2f} %", flush=True)
    firmware = {}
    if args.board:
        build = work / "build"
        print(f"building {pt2.name} for {args.board} and running {args.samples} inputs on QEMU ...", flush=True)
        if cli(["build", str(pt2), "--calib", str(work / "calib.npy"), "--board", args.board, "--out", str(build)]) != 0 \
                or cli(["run", str(build), "--inputs", str(work / "x.npy"), "--out", str(work / "y.npy"), "--check"]) != 0:
            raise SystemExit(f"the build or the run on {args.board} failed")
        check = json.loads((build / "check.json").read_text())
        report = json.loads((build / "report.json").read_text())
        firmware = {"board": args.board, "inputs": check["n"], "mismatches": check["mismatches"],
                    "flash_bytes": report["flash_bytes"], "ram_bytes": report["ram_bytes"],
                    "macs": report["macs"], "layers": report["n_layers"]}
    result = {
        "model": "MobileNetV2 (torchvision layers and init), width 0.35, 10 classes, 96x96, random weights, seed 0",
        "inputs": "N(0, 1) noise: calibration and held-out samples from the same distribution",
        "params": int(sum(p.numel() for p in model.parameters())),
        "calibration_samples": args.calib,
        "comparison": comparison,
        "ops": sorted({op.kind for op in quantized.graph.ops}),
        "firmware": firmware,
        "source": source_state("sdk", "benchmarks/pt2_mobilenetv2.py", "examples/byo_pytorch/mobilenet_v2.py"),
        "seconds": round(time.time() - started, 1),
    }
    if firmware:
        print(f"{args.board}: {firmware['inputs']} inputs, {firmware['mismatches']} mismatches with the interpreter; "
              f"flash {firmware['flash_bytes']:,} B, RAM {firmware['ram_bytes']:,} B, {firmware['macs']:,} MACs")
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
