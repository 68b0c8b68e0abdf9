"""Benchmark: ANTNet on scikit-learn's digits (the bundled image example), then Network Slimming.

    python benchmarks/antnet_digits.py [--model runs/antnet/model.pt] [--ratio 0.5]
                                       [--work runs/antnet_bench] [--out benchmarks/results/antnet_digits.json]

Without --model it trains ANTNet with examples/antnet_digits.yaml (1,797 8 x 8 digits upsampled
to 32 x 32; 70 / 10 / 20 % of each class for train / validation / test; one thread). Then
Network Slimming (2 passes, `ratio` of the prunable channels removed, channels rounded to
multiples of 4) with the dependency graph tying residual adds, depthwise groups and the
attention gates. Prints and writes: float and int8 test accuracy (post-training quantization,
reference interpreter), parameters and MACs of the dense and the slimmed model, the MAC ratio and
the accuracy loss; then both are built for --board and run on QEMU on --images test images with
the firmware's outputs checked against the interpreter (`edge-deploy run --check`).
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
    parser.add_argument("--model", help="a trained ANTNet model.pt (default: train one)")
    parser.add_argument("--ratio", type=float, default=0.5, help="Network Slimming: fraction of channels removed")
    parser.add_argument("--work", default=str(REPO / "runs" / "antnet_bench"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "antnet_digits.json"))
    parser.add_argument("--board", default="mps2-an386", help="board built and run on QEMU ('' = skip)")
    parser.add_argument("--images", type=int, default=100, help="test images run on QEMU")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.slim.config import parse_slim_config
    from edge_deploy.slim.dataset import load_slim_data
    from edge_deploy.slim.pipeline import run_slim
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint

    work = Path(args.work)
    started = time.time()
    if args.model is None:
        from edge_deploy.train.config import load_train_config
        from edge_deploy.train.run import train_checkpoint

        print("training ANTNet on the digits (examples/antnet_digits.yaml) ...", flush=True)
        config = load_train_config(REPO / "examples" / "antnet_digits.yaml")
        save_checkpoint(work / "dense" / "model.pt", train_checkpoint(config, progress=False))
        args.model = str(work / "dense" / "model.pt")
    dense = load_checkpoint(args.model)
    data = load_slim_data(dense)
    # A fixed ratio, measured as it is (no budget refuses the row).
    raw = {"slimming": {"ratio": args.ratio}, "max_accuracy_loss": 100.0}
    print(f"Network Slimming, ratio {args.ratio} ...", flush=True)
    t0 = time.time()
    slimmed, report = run_slim(dense, ["slimming"], parse_slim_config(raw, "slimming"), data, int8=True)
    save_checkpoint(work / "slimming" / "model.pt", slimmed)
    firmware = {}
    if args.board:
        import numpy as np

        from edge_deploy.cli import main as cli

        np.save(work / "x.npy", data.test[0][:args.images])
        for name, path in (("dense", args.model), ("slimming", work / "slimming" / "model.pt")):
            build = work / name / "build"
            print(f"building and running {name} on {args.board} ...", flush=True)
            if cli(["build", str(path), "--board", args.board, "--out", str(build)]) != 0 or \
                    cli(["run", str(build), "--inputs", str(work / "x.npy"), "--out", str(work / name / "y.npy"),
                         "--check"]) != 0:
                raise SystemExit(f"{name}: the build or the run on {args.board} failed")
            check = json.loads((build / "check.json").read_text())
            report_json = json.loads((build / "report.json").read_text())
            firmware[name] = {"board": args.board, "images": check["n"], "mismatches": check["mismatches"],
                              "flash_bytes": report_json["flash_bytes"], "arena_bytes": report_json["arena_bytes"]}
    result = {
        "model": "antnet", "data": "scikit-learn digits, 32x32", "config": "examples/antnet_digits.yaml",
        "n_test": int(len(data.test[1])),
        "dense": {"accuracy": report["accuracy_before"], "int8_accuracy": report["int8_accuracy_before"], "params": report["params_before"], "macs": report["macs_before"],
                  "training_test_accuracy": dense.metrics.get("accuracy") * 100 if dense.metrics.get("accuracy") else None},
        "slimming": {"ratio": args.ratio, "accuracy": report["accuracy_after"],
                     "int8_accuracy": report["int8_accuracy_after"], "params": report["params_after"],
                     "macs": report["macs_after"], "arch": slimmed.arch["params"], "seconds": round(time.time() - t0, 1)},
        "firmware": firmware,
        "source": source_state("sdk", "benchmarks/antnet_digits.py", "examples/antnet_digits.yaml"),
        "seconds": round(time.time() - started, 1),
    }
    result["mac_ratio"] = result["slimming"]["macs"] / result["dense"]["macs"]
    result["accuracy_loss_points"] = result["dense"]["accuracy"] - result["slimming"]["accuracy"]
    d, s = result["dense"], result["slimming"]
    print(f"\n{'model':<10}{'params':>9}{'MACs':>12}{'float %':>9}{'int8 %':>8}{'QEMU mismatches':>17}")
    for label, row, key in (("dense", d, "dense"), ("slimmed", s, "slimming")):
        qemu = firmware.get(key)
        shown = f"{qemu['mismatches']} / {qemu['images']}" if qemu else "-"
        print(f"{label:<10}{row['params']:>9,}{row['macs']:>12,}{row['accuracy']:>9.2f}{row['int8_accuracy']:>8.2f}{shown:>17}")
    print(f"MACs x{result['mac_ratio']:.3f}, {result['accuracy_loss_points']:+.2f} points lost "
          f"on {result['n_test']} test images")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
