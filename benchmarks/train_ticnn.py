"""Benchmark: TICNN on the full CWRU records, the ablation of its tricks, noise and load domains.

    python benchmarks/train_ticnn.py [--data ../shared/data/cwru] [--out benchmarks/results/train_ticnn.json]

Trains, on 2 cores (one thread per run), three configurations at 0 HP:
  baseline   plain training (batch 64, no input dropout, no noise augmentation), one model
  ticnn      the TICNN tricks (changing-rate input dropout, batch 10), an ensemble of N members
  ticnn+aug  the tricks plus white-noise augmentation (-6..10 dB), an ensemble of N members
and a single model of each at 1 HP and 2 HP, for the load-domain table (train at one load, test
at another on the classes both have). Member 1 of an ensemble is the single model of the rows.
Prints the tables and writes every figure to JSON.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent

BASE = {
    "data": {"load_hp": [0], "window": 2048, "stride": 256, "fractions": [0.7, 0.1]},
    "model": {"name": "ticnn", "params": {}},
    "training": {"epochs": 30, "lr": 1e-3, "lr_schedule": "cosine", "patience": 10, "early_stopping": "val_loss", "seed": 0},
    "evaluate": {"snr_db": [-4, -2, 0, 2, 4, 6, 8, 10], "noise_seed": 0},
}
VARIANTS = {
    "baseline": {"input_dropout": None, "batch_size": 64, "noise_augmentation_snr_db": None},
    "ticnn": {"input_dropout": [0.1, 0.9], "batch_size": 10, "noise_augmentation_snr_db": None},
    "ticnn+aug": {"input_dropout": [0.1, 0.9], "batch_size": 10, "noise_augmentation_snr_db": [-6, 10]},
}
LOADS = (0, 1, 2)


def make_config(data: str, variant: str, load: int, members: int, epochs: int):
    from edge_deploy.train.config import parse_train_config

    raw = copy.deepcopy(BASE)
    raw["data"]["path"] = data
    raw["data"]["load_hp"] = [load]
    raw["training"]["epochs"] = epochs
    raw["tricks"] = dict(VARIANTS[variant], ensemble=members)
    if load != 0:
        raw["evaluate"]["snr_db"] = []  # the noise study is at 0 HP
    return parse_train_config(raw, f"benchmark {variant} @ {load} HP")


def pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value * 100:6.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train_ticnn.json"))
    parser.add_argument("--members", type=int, default=5, help="ensemble size at 0 HP")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.train.evaluate import evaluate_checkpoint
    from edge_deploy.train.run import train_checkpoint

    variants = [v for v in args.variants.split(",") if v]
    results: dict = {
        "command": "python benchmarks/train_ticnn.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "torch_threads": torch.get_num_threads(),
        "noise": {},
        "cross_load": {},
    }
    started = time.perf_counter()
    for variant in variants:
        per_load = {}
        for load in LOADS:
            members = args.members if (load == 0 and variant != "baseline") else 1
            config = make_config(args.data, variant, load, members, args.epochs)
            print(f"== {variant} @ {load} HP, {members} member(s)", flush=True)
            checkpoint = train_checkpoint(config, progress=False)
            per_load[load] = checkpoint
            m = checkpoint.metrics
            first = m.get("members", [{"accuracy": m["accuracy"], "per_snr": m["per_snr"]}])[0]
            member_seconds = [round(sum(e["seconds"] for e in h), 1) for h in m["history"]]
            print(f"   clean {m['accuracy'] * 100:.2f} % (member 1: {first['accuracy'] * 100:.2f} %), "
                  f"member training seconds {member_seconds}", flush=True)
            if load == 0:
                results["noise"][variant] = {
                    "single": {"accuracy": first["accuracy"], "per_snr": first["per_snr"], "train_seconds": member_seconds[0],
                               "epochs": m["epochs_run"][0]},
                    "ensemble": None if members == 1 else {"members": members, "accuracy": m["accuracy"], "per_snr": m["per_snr"],
                                                           "train_seconds": sum(member_seconds)},
                    "per_class": m["per_class"],
                    "confusion": m["confusion"],
                    "n_test_windows": m["n_windows"],
                    "n_train_windows": m["n_train_windows"],
                    "parameters": m["parameters"],
                    "macs": m["macs"],
                }
        cross = {}
        for source, checkpoint in per_load.items():
            single = dataclasses.replace(checkpoint, members=checkpoint.members[:1])
            for target in LOADS:
                if target == source:
                    continue
                metrics = evaluate_checkpoint(single, load_hp=[target], snr_db=())
                cross[f"{source}->{target}"] = {"accuracy": metrics["accuracy"], "n_windows": metrics["n_windows"],
                                               "classes": sum(v is not None for v in metrics["per_class"].values())}
        cross["average"] = sum(v["accuracy"] for v in cross.values()) / len(cross)
        results["cross_load"][variant] = cross
        results["seconds"] = round(time.perf_counter() - started, 1)
        atomic_write_json(args.out, results)

    snrs = [f"{s:g}" for s in BASE["evaluate"]["snr_db"]]
    print("\nCWRU 0 HP, disjoint-time test windows: accuracy % (clean, then per test SNR in dB)")
    print(f"{'model':<22}{'clean':>7}" + "".join(f"{s + ' dB':>8}" for s in snrs))
    for variant, entry in results["noise"].items():
        for kind in ("single", "ensemble"):
            row = entry[kind]
            if row is None:
                continue
            name = f"{variant} {kind}" + (f" x{row['members']}" if kind == "ensemble" else "")
            print(f"{name:<22}{pct(row['accuracy']):>7}" + "".join(f"{pct(row['per_snr'].get(s)):>8}" for s in snrs))
    pairs = [k for k in next(iter(results["cross_load"].values())) if k != "average"]
    print("\nAcross loads (single model, train -> test HP, classes both have): accuracy %")
    print(f"{'model':<12}" + "".join(f"{p:>8}" for p in pairs) + f"{'avg':>8}")
    for variant, cross in results["cross_load"].items():
        print(f"{variant:<12}" + "".join(f"{pct(cross[p]['accuracy']):>8}" for p in pairs) + f"{pct(cross['average']):>8}")
    print(f"\nwrote {args.out} ({results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
