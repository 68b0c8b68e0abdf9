"""Benchmark: Scalpel's group sparsity paying off in the firmware (TICNN, CWRU 0 HP, QEMU mps2-an386).

    python benchmarks/slim_scalpel_firmware.py --dense DENSE.pt [--scalpel S.pt --unstructured U.pt]
        [--sparsity '{"conv1": 0.5, ...}'] [--retrain-epochs 20] [--data ../shared/data/cwru]
        [--work runs/scalpel_fw] [--out benchmarks/results/slim_scalpel_firmware.json] [--winograd off]

Rows, each built with `edge-deploy build` and measured on QEMU:
  dense         the dense int8 model (--sparse off)
  scalpel       Scalpel group-of-4 pruning (--sparse auto: per layer dense or ed_*_group_sparse_s8)
  unstructured  plain magnitude pruning at the same per-layer sparsity, built with the generic
                one-index-per-weight kernel in every conv / fully connected layer
                (--sparse force-csr: ed_*_csr_s8)
Without --scalpel / --unstructured the pruned checkpoints are made from --dense with
`edge_deploy.slim` at --sparsity (retraining --retrain-epochs with the masks held).
Figures: exact executed instructions of one inference and estimated Cortex-M4 cycles (profile),
weights bytes in flash (report.json), int8 accuracy of the firmware itself on the whole test
split (run on QEMU), and the per-layer kernel choice with its reason. Prints a table, writes JSON.
Every row is built with `--winograd off` by default (dense convs on the direct arm_convolve_s8), so
the dense row is the direct dense int8 model; `--winograd auto` lets dense layers take the Winograd
kernel instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPARSITY = {"conv1": 0.5, "conv2": 0.75, "conv3": 0.75, "conv4": 0.75, "conv5": 0.75, "fc1": 0.9}


def prune(dense_path: Path, out: Path, group_size: int, sparsity: dict, epochs: float, data: str | None) -> Path:
    """Scalpel-prune the dense checkpoint at ``sparsity`` in groups of ``group_size``; returns
    the new model.pt."""
    from edge_deploy.slim.config import parse_slim_config
    from edge_deploy.slim.pipeline import load_slim_data, run_slim
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint

    dense = load_checkpoint(dense_path)
    config = parse_slim_config({"scalpel": {"group_size": group_size, "sparsity": sparsity, "retrain_epochs": epochs,
                                            "batch_size": 32, "lr": 5e-4},
                                "max_accuracy_loss": 100.0}, "benchmark")  # fixed settings, measured as they are
    slimmed, _ = run_slim(dense, ["scalpel"], config, load_slim_data(dense, data))
    return Path(save_checkpoint(out / "model.pt", slimmed))


def measure(model: Path, build_dir: Path, sparse: str, data: str, winograd: str = "off") -> dict:
    """Build ``model`` with ``--sparse sparse --winograd winograd``, profile it and run the test
    split on QEMU."""
    import shutil

    from edge_deploy.build.firmware_build import build_model
    from edge_deploy.check.accuracy import firmware_accuracy
    from edge_deploy.check.build_profile import profile_build

    if build_dir.exists():
        shutil.rmtree(build_dir)
    report = build_model(model, "mps2-an386", build_dir, sparse=sparse, winograd=winograd).report
    profile = profile_build(build_dir)
    acc = firmware_accuracy(build_dir, report, data=data)
    layers = []
    for layer, prof in zip([x for x in report["layers"] if x["mark"] >= 0], profile["layers"]):
        layers.append({"name": layer["short_name"], "op": layer["op"], "kernel": layer["kernel"],
                       "instructions": prof["instructions"], "cycles": prof["cycles"],
                       "reason": (layer.get("sparsity") or {}).get("reason")})
    return {"model": str(model), "sparse": sparse, "winograd": winograd, "instructions": profile["instructions"],
            "cycles": profile["cycles"], "weights_bytes": report["weights_bytes"],
            "flash_bytes": report["flash_bytes"], "arena_bytes": report["arena_bytes"],
            "int8_firmware_accuracy": round(100.0 * acc.correct / acc.n, 3), "test_windows": acc.n,
            "layers": layers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", required=True, help="the trained dense TICNN model.pt")
    parser.add_argument("--scalpel", help="a Scalpel-pruned model.pt (default: prune --dense)")
    parser.add_argument("--unstructured", help="an unstructured-pruned model.pt (default: prune --dense)")
    parser.add_argument("--sparsity", default=json.dumps(DEFAULT_SPARSITY), help="per-layer sparsity (JSON)")
    parser.add_argument("--retrain-epochs", type=float, default=20)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"))
    parser.add_argument("--work", default=str(REPO / "runs" / "scalpel_fw"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "slim_scalpel_firmware.json"))
    parser.add_argument("--winograd", choices=["off", "auto"], default="off",
                        help="dense convs: direct kernel (off, the baseline) or Winograd where cheaper")
    args = parser.parse_args(argv)

    import torch

    from edge_deploy.fsutil import atomic_write_json

    torch.set_num_threads(1)
    start = time.monotonic()
    work = Path(args.work)
    sparsity = json.loads(args.sparsity)
    models = {"dense": Path(args.dense)}
    for name, group_size in (("scalpel", 4), ("unstructured", 1)):
        given = getattr(args, name)
        models[name] = Path(given) if given else prune(models["dense"], work / name, group_size, sparsity,
                                                       args.retrain_epochs, args.data)
    modes = {"dense": "off", "scalpel": "auto", "unstructured": "force-csr"}
    results = {name: measure(models[name], work / f"{name}_build", modes[name], args.data, args.winograd)
               for name in models}
    base = results["dense"]
    for r in results.values():
        r["instructions_x"] = round(base["instructions"] / r["instructions"], 3)
        r["cycles_x"] = round(base["cycles"] / r["cycles"], 3)
        r["weights_ratio"] = round(r["weights_bytes"] / base["weights_bytes"], 3)
        r["accuracy_lost_points"] = round(base["int8_firmware_accuracy"] - r["int8_firmware_accuracy"], 3)
    print(f"{'row':<14}{'instructions':>14}{'x fewer':>9}{'cycles':>12}{'x fewer':>9}{'weights B':>11}"
          f"{'ratio':>7}{'int8 fw %':>11}")
    for name, r in results.items():
        print(f"{name:<14}{r['instructions']:>14,}{r['instructions_x']:>9.2f}{r['cycles']:>12,}{r['cycles_x']:>9.2f}"
              f"{r['weights_bytes']:>11,}{r['weights_ratio']:>7.2f}{r['int8_firmware_accuracy']:>11.2f}")
    dense_by_name = {layer["name"]: layer["instructions"] for layer in base["layers"]}
    for name in ("scalpel", "unstructured"):
        print(f"\n{name} per layer (dense instructions -> this build's; a fused conv_pool against both):")
        for layer in results[name]["layers"]:
            dense = sum(dense_by_name.get(part, 0) for part in layer["name"].split("_"))
            print(f"  {layer['name']:<12}{layer['kernel']:<40}{dense:>10,} ->"
                  f"{layer['instructions']:>10,}  {layer['reason'] or ''}")
    out = {"command": " ".join(["python", "benchmarks/slim_scalpel_firmware.py", *(argv or sys.argv[1:])]),
           "sparsity": sparsity, "results": results, "seconds": round(time.monotonic() - start, 1)}
    atomic_write_json(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
