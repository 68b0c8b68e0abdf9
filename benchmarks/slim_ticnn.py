"""Benchmark: slimming TICNN on the full CWRU records at 0 HP, each method against the dense model.

    python benchmarks/slim_ticnn.py [--data ../shared/data/cwru] [--model runs/ticnn/model.pt]
                                    [--work runs/slim_bench] [--out benchmarks/results/slim_ticnn.json]

Without --model it first trains a dense TICNN (examples/ticnn_cwru_full.yaml, fewer epochs).
Then, on one thread:
  slimming       Network Slimming (2 passes), dense result: MACs and parameters
  scalpel        SIMD-aware group pruning (groups of 4 in kernel order), per-layer sparsity
  unstructured   plain magnitude pruning at the same per-layer sparsity (group size 1)
  slim+scalpel   the chain
  activation     winner rates for a 0.5-point budget: per-layer activation density
and the accuracy under noise (-4 .. 10 dB) of the slimmed model next to the dense one. Each row:
float and int8 test accuracy, parameters, dense and effective MACs, weight flash of the
group-sparse format. Executed instructions on QEMU come from the build stage once it measures
sparse kernels (not here yet). Prints the table and writes every figure to JSON.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LAYER_SPARSITY = {"conv1": 0.5, "conv2": 0.75, "conv3": 0.75, "conv4": 0.75, "conv5": 0.75, "fc1": 0.9}
SETTINGS = {
    # channel_multiple 1: the paper's exact channel selection, as these figures were first measured
    # (the default, 4, rounds kept channels up to the kernels' blocks of four)
    "slimming": {"slimming": {"ratio": 0.45, "l1_lambda": 1e-3, "passes": 2, "sparsity_epochs": 4,
                              "finetune_epochs": 6, "batch_size": 32, "lr": 1e-3, "channel_multiple": 1}},
    "scalpel": {"scalpel": {"group_size": 4, "sparsity": LAYER_SPARSITY, "retrain_epochs": 20,
                            "batch_size": 32, "lr": 5e-4}},
    "unstructured": {"scalpel": {"group_size": 1, "sparsity": LAYER_SPARSITY, "retrain_epochs": 20,
                                 "batch_size": 32, "lr": 5e-4}},
    "activation": {"activation": {"budget": 0.5}},
}


def weight_flash(checkpoint, group_size: int) -> dict[str, int]:
    """Dense int8 weight bytes and group-sparse bytes of every conv/linear layer of member 0."""
    import torch

    from edge_deploy.slim.scalpel import group_sparse_bytes, prunable_layers, to_kernel_order

    example = torch.zeros(1, *checkpoint.input_shape)
    dense = sparse = 0
    for layer in prunable_layers(checkpoint.model, example):
        rows = to_kernel_order(layer.module.weight.detach(), layer.perm)
        dense += rows.numel()
        sparse += min(rows.numel(), group_sparse_bytes(rows, group_size))  # a layer stays dense if smaller
    return {"dense_weight_bytes": dense, "sparse_weight_bytes": sparse}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"))
    parser.add_argument("--model", help="a trained dense TICNN model.pt (default: train one)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs when training the dense model")
    parser.add_argument("--work", default=str(REPO / "runs" / "slim_bench"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "slim_ticnn.json"))
    parser.add_argument("--board", default="mps2-an386", help="board built and run on QEMU for instruction counts ('' = skip)")
    parser.add_argument("--retrain-epochs", type=float, default=20, help="Scalpel / unstructured retraining epochs")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.slim.config import parse_slim_config
    from edge_deploy.slim.dataset import load_slim_data
    from edge_deploy.slim.pipeline import run_slim
    from edge_deploy.check import firmware_figures
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint
    from edge_deploy.train.evaluate import evaluate_checkpoint

    work = Path(args.work)
    started = time.time()
    if args.model is None:
        from edge_deploy.train.config import load_train_config
        from edge_deploy.train.run import train_checkpoint

        config = load_train_config(REPO / "examples" / "ticnn_cwru_full.yaml")
        config.data.path = args.data
        config.training.epochs = args.epochs
        config.evaluate.snr_db = []
        print(f"training the dense TICNN ({args.epochs} epochs max) ...", flush=True)
        save_checkpoint(work / "dense" / "model.pt", train_checkpoint(config, progress=False))
        args.model = str(work / "dense" / "model.pt")
    dense = load_checkpoint(args.model)
    data = load_slim_data(dense, args.data)

    dense_measured = {}
    if args.board:
        dense_copy = save_checkpoint(work / "dense_build" / "model.pt", dense)
        dense_measured = firmware_figures(dense_copy, args.board, work / "dense_build" / "build")
    rows, results = {}, {}
    chains = {"slimming": ["slimming"], "scalpel": ["scalpel"], "unstructured": ["scalpel"],
              "slim+scalpel": ["slimming", "scalpel"], "activation": ["activation"]}
    for name, methods in chains.items():
        raw = copy.deepcopy(SETTINGS.get(name, {}))
        if name == "slim+scalpel":
            raw = copy.deepcopy({**SETTINGS["slimming"], **SETTINGS["scalpel"]})
        if "scalpel" in raw:
            raw["scalpel"]["retrain_epochs"] = args.retrain_epochs
        # Fixed settings, each method measured as it is: no budget refuses a row here
        # (benchmarks/slim_defaults.py measures the budget-driven defaults).
        raw["max_accuracy_loss"] = 100.0
        print(f"{name} ...", flush=True)
        t0 = time.time()
        slimmed, report = run_slim(dense, methods, parse_slim_config(raw, name), data, int8=True)
        path = save_checkpoint(work / name / "model.pt", slimmed)
        if args.board:
            figures = firmware_figures(path, args.board, work / name / "build")
            report.update(instructions_after=figures["instructions"], cycles_after=figures["cycles"])
        group = raw.get("scalpel", {}).get("group_size", 4)
        report.update(weight_flash(slimmed, group), seconds=round(time.time() - t0, 1), settings=raw)
        results[name] = report
        rows[name] = slimmed

    noise = {"dense": evaluate_checkpoint(dense, data=args.data, snr_db=(-4, -2, 0, 2, 4, 6, 8, 10))["per_snr"],
             "slimming": evaluate_checkpoint(rows["slimming"], data=args.data,
                                             snr_db=(-4, -2, 0, 2, 4, 6, 8, 10))["per_snr"]}
    dense_flash = weight_flash(dense, 4)["dense_weight_bytes"]
    for name, r in results.items():
        if "instructions_after" in r:
            print(f"{name:<14} instructions {r['instructions_after']:>10,} ({dense_measured['instructions'] / r['instructions_after']:.2f}x fewer)"
                  f"  cycles {r['cycles_after']:>10,} ({dense_measured['cycles'] / r['cycles_after']:.2f}x fewer)")
    print(f"\n{'method':<14}{'params':>9}{'MACs':>11}{'dense MACs':>12}{'MAC x':>7}{'float %':>9}{'int8 %':>8}"
          f"{'weights B':>11}{'flash x':>8}")
    first = next(iter(results.values()))
    print(f"{'dense':<14}{first['params_before']:>9,}{first['macs_before']:>11,}{first['dense_macs_before']:>12,}"
          f"{1.0:>7.2f}{first['accuracy_before']:>9.2f}{first['int8_accuracy_before']:>8.2f}{dense_flash:>11,}{1.0:>8.2f}")
    for name, r in results.items():
        print(f"{name:<14}{r['params_after']:>9,}{r['macs_after']:>11,}{r['dense_macs_after']:>12,}"
              f"{r['macs_before'] / r['macs_after']:>7.2f}{r['accuracy_after']:>9.2f}{r['int8_accuracy_after']:>8.2f}"
              f"{r['sparse_weight_bytes']:>11,}{r['sparse_weight_bytes'] / dense_flash:>8.2f}")
    print("\nactivation density after pruning:", results["activation"]["input_density_after"])
    print("noise (dense vs slimmed):", {k: (round(noise['dense'][k] * 100, 2), round(noise['slimming'][k] * 100, 2))
                                         for k in noise["dense"]})
    atomic_write_json(args.out, {"command": "python benchmarks/slim_ticnn.py " + " ".join(sys.argv[1:] if argv is None else argv),
                                 "model": args.model, "results": results, "noise": noise,
                                 "dense_weight_bytes": dense_flash, "torch_threads": 1, "dense_measured": dense_measured,
                                 "seconds": round(time.time() - started, 1)})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
