"""Benchmark: activation pruning (Integral Pruning) in the int8 firmware (TICNN, CWRU 0 HP, QEMU mps2-an386).

    python benchmarks/slim_activation_firmware.py --dense DENSE.pt [--activation ACT.pt] [--budget 0.5]
        [--windows 3] [--data ../shared/data/cwru] [--work runs/activation_fw]
        [--out benchmarks/results/slim_activation_firmware.json]

Rows, each built with `edge-deploy build` (--sparse auto) and measured on QEMU:
  dense       the dense int8 model
  activation  the same weights with the activation plan (a checkpoint from `edge-deploy slim -m
              activation`, e.g. benchmarks/slim_ticnn.py's activation run; default: made from
              --dense with --budget): thresholds applied after each pruned layer, fully connected
              layers on pruned inputs with ed_fully_connected_skip_zero_s8 where modelled cheaper
Figures: executed instructions and estimated cycles per layer and in total (`edge-deploy profile`,
mean over --windows real test windows, since skipping makes the count data dependent), int8
accuracy of the firmware itself on the whole test split (QEMU), and per pruned layer its winner
rate, density and float validation accuracy lost with that layer alone pruned (the plan's sweep).
Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def measure(model: Path, build_dir: Path, data: str, windows: np.ndarray) -> dict:
    """Build ``model``, profile it on each of ``windows`` and run the test split on QEMU."""
    from edge_deploy.build.firmware_build import build_model
    from edge_deploy.check.accuracy import firmware_accuracy
    from edge_deploy.check.build_profile import profile_build

    if build_dir.exists():
        shutil.rmtree(build_dir)
    report = build_model(model, "mps2-an386", build_dir, sparse="auto").report
    run_layers = [x for x in report["layers"] if x["mark"] >= 0]
    per_layer = np.zeros((len(run_layers), 2))
    totals = np.zeros(2)
    for k, window in enumerate(windows):
        path = build_dir.parent / f"{build_dir.name}_window{k}.npy"
        np.save(path, window[None].astype(np.float32))
        profile = profile_build(build_dir, inputs=path)
        totals += (profile["instructions"], profile["cycles"])
        per_layer += [(p["instructions"], p["cycles"]) for p in profile["layers"]]
    per_layer /= len(windows)
    totals /= len(windows)
    acc = firmware_accuracy(build_dir, report, data=data)
    layers = [{"name": layer["short_name"], "op": layer["op"], "kernel": layer["kernel"],
               "instructions": round(float(ins)), "cycles": round(float(cyc)), "skip_zero": layer.get("skip_zero")}
              for layer, (ins, cyc) in zip(run_layers, per_layer)]
    return {"model": str(model), "instructions": round(float(totals[0])), "cycles": round(float(totals[1])),
            "int8_firmware_accuracy": round(100.0 * acc.correct / acc.n, 3), "test_windows": acc.n,
            "ram_bytes": report["ram_bytes"], "flash_bytes": report["flash_bytes"], "layers": layers}


def make_plan(dense_path: Path, out: Path, budget: float, data: str) -> Path:
    """Activation-prune ``dense_path`` within ``budget`` points; returns the new model.pt."""
    from edge_deploy.slim.config import parse_slim_config
    from edge_deploy.slim.pipeline import load_slim_data, run_slim
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint

    dense = load_checkpoint(dense_path)
    config = parse_slim_config({"activation": {"budget": budget}, "max_accuracy_loss": budget}, "benchmark")
    pruned, _ = run_slim(dense, ["activation"], config, load_slim_data(dense, data))
    return Path(save_checkpoint(out / "model.pt", pruned))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", required=True, help="the trained dense TICNN model.pt")
    parser.add_argument("--activation", help="an activation-pruned model.pt of the same weights (default: make one)")
    parser.add_argument("--budget", type=float, default=0.5, help="accuracy-loss budget (points) when making the plan")
    parser.add_argument("--windows", type=int, default=3, help="test windows profiled (instructions are averaged)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"))
    parser.add_argument("--work", default=str(REPO / "runs" / "activation_fw"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "slim_activation_firmware.json"))
    args = parser.parse_args(argv)

    import torch

    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.pipeline import activation_plan, load_split
    from edge_deploy.train.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    start = time.monotonic()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    models = {"dense": Path(args.dense)}
    models["activation"] = Path(args.activation) if args.activation else make_plan(models["dense"], work / "plan",
                                                                                    args.budget, args.data)
    checkpoint = load_checkpoint(models["activation"])
    plan = activation_plan(checkpoint)
    x, _ = load_split(checkpoint, args.data, "test")
    windows = x[np.linspace(0, len(x) - 1, args.windows).astype(int)]
    results = {name: measure(path, work / f"{name}_build", args.data, windows) for name, path in models.items()}
    dense, pruned = results["dense"], results["activation"]
    for layer, base in zip(pruned["layers"], dense["layers"]):
        layer["dense_instructions"] = base["instructions"]
        layer["instructions_saved"] = base["instructions"] - layer["instructions"]
    sites = [{"node": s["node"], "module": s.get("module"), "winner_rate": s["winner_rate"],
              "density_before": s.get("density_before"), "density_after": s.get("density_after"),
              "val_accuracy_lost_alone": (None if s["winner_rate"] >= 1.0 else round(
                  plan["base_accuracy"] - next(a for r, a in s["sensitivity"] if r == s["winner_rate"]), 3))}
             for s in plan["sites"]]
    summary = {"instructions_saved": dense["instructions"] - pruned["instructions"],
               "instructions_x": round(dense["instructions"] / pruned["instructions"], 4),
               "cycles_saved": dense["cycles"] - pruned["cycles"],
               "int8_accuracy_lost_points": round(dense["int8_firmware_accuracy"] - pruned["int8_firmware_accuracy"], 3),
               "val_accuracy_lost_float_points": round(plan["base_accuracy"] - plan["accuracy"], 3)}
    print(f"{'layer':<10}{'kernel':<38}{'dense':>10}{'pruned':>10}{'saved':>9}")
    for layer in pruned["layers"]:
        print(f"{layer['name']:<10}{layer['kernel']:<38}{layer['dense_instructions']:>10,}{layer['instructions']:>10,}"
              f"{layer['instructions_saved']:>9,}")
    print(f"{'total':<48}{dense['instructions']:>10,}{pruned['instructions']:>10,}{summary['instructions_saved']:>9,}")
    print(f"\nint8 firmware accuracy ({pruned['test_windows']} test windows): dense {dense['int8_firmware_accuracy']:.2f} %, "
          f"pruned {pruned['int8_firmware_accuracy']:.2f} %")
    print(f"{'site':<12}{'rate':>6}{'density':>9}{'val loss alone':>16}")
    for s in sites:
        print(f"{str(s['module'] or s['node']):<12}{s['winner_rate']:>6.2f}{(s['density_after'] or 0):>9.3f}"
              f"{'' if s['val_accuracy_lost_alone'] is None else s['val_accuracy_lost_alone']:>16}")
    out = {"command": " ".join(["python", "benchmarks/slim_activation_firmware.py", *(argv or sys.argv[1:])]),
           "summary": summary, "sites": sites, "results": results, "seconds": round(time.monotonic() - start, 1)}
    atomic_write_json(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
