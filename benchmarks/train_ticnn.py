"""Benchmark: TICNN on the full CWRU records, the ablation of its tricks, noise and load domains.

    python benchmarks/train_ticnn.py [--data ../shared/data/cwru] [--out benchmarks/results/train_ticnn.json]
    python benchmarks/train_ticnn.py --only cross-load --variants ticnn   # ensembles across loads only
    python benchmarks/train_ticnn.py --only cross-load-snr                 # the default config: loads x test SNR

Trains, on 2 cores (one thread per run), three configurations at 0 HP:
  baseline   plain training (batch 64, no input dropout, no noise augmentation), one model
  ticnn      the TICNN tricks (changing-rate input dropout, batch 10), an ensemble of N members
  ticnn+aug  the tricks plus white-noise augmentation (-6..10 dB), an ensemble of N members
and a single model of each at 1 HP and 2 HP, for the load-domain table (train at one load, test
at another on the classes both have). Member 1 of an ensemble is the single model of the rows.
With --cross-load-ensemble, the 1 HP and 2 HP models are N-member ensembles too, and the load
table is also measured for the ensembles (majority vote). --only cross-load trains only that: the
N-member ensembles at 0, 1 and 2 HP (no noise study) and their load table, single and ensemble.
With --adapt-bn, the load table is also measured with AdaBN: before scoring a target load, every
BatchNorm's running mean and variance are re-estimated on the target load's training-split windows,
unlabeled (all classes the data holds), and the target's test split is scored, with and without
the adaptation, for member 1 and the ensemble. --models DIR keeps every trained checkpoint
(DIR/<variant>_<load>hp_x<members>.pt) and reuses those already there instead of training them.
--only cross-load-snr trains the N-member ensembles of each variant (default: ``default``, the
tricks of examples/ticnn_cwru_full.yaml) at 0, 1 and 2 HP and scores every other load, clean and
with white noise at each test SNR (-4 .. 10 dB), member 1 and the ensemble.
Prints the tables and writes every figure to JSON, merged into the existing file (the sections
a run does not measure are kept), with the git commit of the run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import fcntl
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from provenance import source_state

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
SNRS_DB = (-4, -2, 0, 2, 4, 6, 8, 10)


def example_config() -> dict:
    """The full-data example config (the ``default`` variant trains with its tricks and training)."""
    import yaml

    return yaml.safe_load((REPO / "examples" / "ticnn_cwru_full.yaml").read_text())


VARIANTS["default"] = {k: v for k, v in example_config()["tricks"].items() if k != "ensemble"}


def make_config(data: str, variant: str, load: int, members: int, epochs: int | None, noise: bool = True):
    from edge_deploy.train.config import parse_train_config

    raw = copy.deepcopy(BASE)
    if variant == "default":
        raw["training"].update({k: v for k, v in example_config()["training"].items() if k != "threads"})
    raw["data"]["path"] = data
    raw["data"]["load_hp"] = [load]
    if epochs is not None:
        raw["training"]["epochs"] = epochs
    raw["tricks"] = dict(VARIANTS[variant], ensemble=members)
    if load != 0 or not noise:
        raw["evaluate"]["snr_db"] = []  # the noise study is at 0 HP
    return parse_train_config(raw, f"benchmark {variant} @ {load} HP")


def pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value * 100:6.2f}"


def cross_load_table(per_load: dict, first_only: bool) -> dict:
    """Evaluate each load's checkpoint on every other load (all windows, shared classes)."""
    from edge_deploy.train.evaluate import evaluate_checkpoint

    cross = {}
    for source, checkpoint in per_load.items():
        model = dataclasses.replace(checkpoint, members=checkpoint.members[:1]) if first_only else checkpoint
        for target in LOADS:
            if target == source:
                continue
            metrics = evaluate_checkpoint(model, load_hp=[target], snr_db=())
            cross[f"{source}->{target}"] = {"accuracy": metrics["accuracy"], "n_windows": metrics["n_windows"],
                                           "classes": sum(v is not None for v in metrics["per_class"].values())}
    cross["average"] = sum(v["accuracy"] for v in cross.values()) / len(cross)
    return cross


def cross_load_snr_table(per_load: dict) -> dict:
    """Every other load, clean and at each test SNR: member 1 and the ensemble's majority vote
    (accuracy in [0, 1]); plus, per kind, the worst pair at each SNR."""
    from edge_deploy.train.evaluate import evaluate_checkpoint

    table: dict = {"member_1": {}, "ensemble": {}}
    for source, checkpoint in per_load.items():
        for target in LOADS:
            if target == source:
                continue
            m = evaluate_checkpoint(checkpoint, load_hp=[target], snr_db=SNRS_DB)
            first = m.get("members", [m])[0]
            pair = f"{source}->{target}"
            table["member_1"][pair] = {"clean": first["accuracy"], **first["per_snr"], "n_windows": m["n_windows"]}
            if len(checkpoint.members) > 1:
                table["ensemble"][pair] = {"clean": m["accuracy"], **m["per_snr"], "n_windows": m["n_windows"]}
    for kind in list(table):
        pairs = table[kind]
        if not pairs:
            del table[kind]
            continue
        columns = [c for c in next(iter(pairs.values())) if c != "n_windows"]
        pairs["worst"] = {c: min(p[c] for p in list(pairs.values())) for c in columns}
        pairs["average"] = {c: sum(p[c] for k, p in pairs.items() if k != "worst") / (len(pairs) - 1) for c in columns}
    return table


def adabn_table(per_load: dict) -> dict:
    """AdaBN across loads: for every pair, the target's test split scored without and with the
    BatchNorm statistics adapted on the target's (unlabeled) training split; member 1 and, for an
    ensemble, the majority vote."""
    from edge_deploy.train.evaluate import adapt_batchnorm, evaluate_checkpoint

    tables: dict = {"member_1": {}}
    for source, checkpoint in per_load.items():
        for target in LOADS:
            if target == source:
                continue
            adapted = adapt_batchnorm(checkpoint, load_hp=[target])
            plain = evaluate_checkpoint(checkpoint, load_hp=[target], split="test", snr_db=())
            tuned = evaluate_checkpoint(adapted, load_hp=[target], snr_db=())
            assert tuned["split"] == "test" and tuned["n_windows"] == plain["n_windows"]
            kinds = [("member_1", lambda m: m.get("members", [m])[0]["accuracy"])]
            if len(checkpoint.members) > 1:
                kinds.append(("ensemble", lambda m: m["accuracy"]))
            for kind, acc in kinds:
                tables.setdefault(kind, {})[f"{source}->{target}"] = {
                    "no_adapt": acc(plain), "adapted": acc(tuned), "n_windows": tuned["n_windows"],
                    "n_adapt_windows": tuned["adapted_bn"]["n_windows"]}
            if len(checkpoint.members) > 1:  # every member alone: the spread over seeds
                tables.setdefault("each_member", {})[f"{source}->{target}"] = {
                    "no_adapt": [m["accuracy"] for m in plain["members"]], "adapted": [m["accuracy"] for m in tuned["members"]]}
    for kind, table in tables.items():
        pairs = list(table.values())
        if kind == "each_member":
            n = len(pairs[0]["adapted"])
            table["average_no_adapt"] = [sum(p["no_adapt"][i] for p in pairs) / len(pairs) for i in range(n)]
            table["average"] = [sum(p["adapted"][i] for p in pairs) / len(pairs) for i in range(n)]
            continue
        table["average_no_adapt"] = sum(p["no_adapt"] for p in pairs) / len(pairs)
        table["average"] = sum(p["adapted"] for p in pairs) / len(pairs)
    return tables


def trained_checkpoint(config, path: Path | None):
    """Train ``config`` (or load it from ``path`` when that file exists; save it there otherwise)."""
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint
    from edge_deploy.train.run import train_checkpoint

    if path is not None and path.is_file():
        print(f"   reusing {path}", flush=True)
        return load_checkpoint(path)
    checkpoint = train_checkpoint(config, progress=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, checkpoint)
    return checkpoint


def merge_write(path: str, update: dict) -> None:
    """Merge ``update`` into the JSON at ``path`` (two levels deep: per section, per variant) and
    write it atomically, under a lock so that parallel runs of this script do not lose each other's rows."""
    from edge_deploy.fsutil import atomic_write_json

    with open(Path(tempfile.gettempdir()) / "edge-deploy-train_ticnn-json.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            merged = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            merged = {}
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
        atomic_write_json(path, merged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cwru"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train_ticnn.json"))
    parser.add_argument("--members", type=int, default=5, help="ensemble size at 0 HP")
    parser.add_argument("--epochs", type=int, help="training epochs (default: 30; the default variant: the example's)")
    parser.add_argument("--variants", default=",".join(v for v in VARIANTS if v != "default"))
    parser.add_argument("--cross-load-ensemble", action="store_true",
                        help="train N-member ensembles at 1 and 2 HP too and measure the load table for the ensembles")
    parser.add_argument("--only", choices=("all", "cross-load", "cross-load-snr"), default="all",
                        help="cross-load: only the ensembles at every load and their load table (no noise study); "
                             "cross-load-snr: the same with every test SNR (variant default unless --variants)")
    parser.add_argument("--adapt-bn", action="store_true",
                        help="also measure the load table with AdaBN (BatchNorm statistics from the target load's unlabeled training split)")
    parser.add_argument("--models", type=Path, help="keep the trained checkpoints in this folder and reuse those already there")
    args = parser.parse_args(argv)
    only_cross = args.only in ("cross-load", "cross-load-snr")
    with_snr = args.only == "cross-load-snr"
    if with_snr and args.variants == ",".join(v for v in VARIANTS if v != "default"):
        args.variants = "default"
    ensemble_loads = args.cross_load_ensemble or only_cross
    torch.set_num_threads(1)

    variants = [v for v in args.variants.split(",") if v]
    command = "python benchmarks/train_ticnn.py " + " ".join(argv if argv is not None else sys.argv[1:])
    state = source_state("benchmarks/train_ticnn.py", "sdk/edge_deploy/train", "sdk/edge_deploy/data")
    commit = state["commit"] + ("+dirty" if state["uncommitted"] else "")
    results: dict = {"noise": {}, "cross_load": {}, "cross_load_ensemble": {}, "cross_load_adabn": {}, "cross_load_snr": {}}
    started = time.perf_counter()
    for variant in variants:
        per_load = {}
        for load in LOADS:
            ensemble = variant != "baseline" and (load == 0 or ensemble_loads)
            members = args.members if ensemble else 1
            config = make_config(args.data, variant, load, members, args.epochs, noise=not only_cross)
            print(f"== {variant} @ {load} HP, {members} member(s)", flush=True)
            saved = None if args.models is None else args.models / f"{variant}_{load}hp_x{members}.pt"
            checkpoint = trained_checkpoint(config, saved)
            per_load[load] = checkpoint
            m = checkpoint.metrics
            first = m.get("members", [{"accuracy": m["accuracy"], "per_snr": m["per_snr"]}])[0]
            member_seconds = [round(sum(e["seconds"] for e in h), 1) for h in m["history"]]
            print(f"   clean {m['accuracy'] * 100:.2f} % (member 1: {first['accuracy'] * 100:.2f} %), "
                  f"member training seconds {member_seconds}", flush=True)
            if load == 0 and not only_cross:
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
        results["cross_load"][variant] = cross_load_table(per_load, first_only=True)
        if ensemble_loads and variant != "baseline":
            table = cross_load_table(per_load, first_only=False)
            table.update({"members": args.members, "commit": commit, "command": command,
                          "same_load_test_accuracy": {str(load): c.metrics["accuracy"] for load, c in per_load.items()},
                          "train_seconds": {str(load): round(sum(sum(e["seconds"] for e in h) for h in c.metrics["history"]), 1)
                                            for load, c in per_load.items()}})
            table["member_1"] = results["cross_load"][variant]
            results["cross_load_ensemble"][variant] = table
        if with_snr:
            snr_table = cross_load_snr_table(per_load)
            snr_table.update({"members": args.members, "commit": commit, "command": command, "tricks": VARIANTS[variant],
                              "same_load_test_accuracy": {str(load): c.metrics["accuracy"] for load, c in per_load.items()},
                              "same_load_member_1": {str(load): c.metrics.get("members", [c.metrics])[0]["accuracy"]
                                                     for load, c in per_load.items()}})
            results["cross_load_snr"][variant] = snr_table
        if args.adapt_bn:
            adabn = adabn_table(per_load)
            adabn.update({"members": len(per_load[0].members), "commit": commit, "command": command,
                          "scored": "target load's test split", "adaptation": "target load's training split, unlabeled, every class"})
            results["cross_load_adabn"][variant] = adabn
        # --only cross-load leaves the full run's single-model table as it was (member 1 is the
        # same seeded model; its figures are repeated under cross_load_ensemble.member_1).
        section = {} if only_cross else {"cross_load": {variant: results["cross_load"][variant]}}
        if variant in results["noise"]:
            section["noise"] = {variant: results["noise"][variant]}
        if variant in results["cross_load_ensemble"]:
            section["cross_load_ensemble"] = {variant: results["cross_load_ensemble"][variant]}
        if variant in results["cross_load_adabn"]:
            section["cross_load_adabn"] = {variant: results["cross_load_adabn"][variant]}
        if variant in results["cross_load_snr"]:
            section["cross_load_snr"] = {variant: results["cross_load_snr"][variant]}
        if not only_cross:
            section.update({"command": command, "commit": commit, "torch_threads": torch.get_num_threads(),
                            "seconds": round(time.perf_counter() - started, 1)})
        merge_write(args.out, section)
    results["seconds"] = round(time.perf_counter() - started, 1)

    snrs = [f"{s:g}" for s in BASE["evaluate"]["snr_db"]]
    if results["noise"]:
        print("\nCWRU 0 HP, disjoint-time test windows: accuracy % (clean, then per test SNR in dB)")
        print(f"{'model':<22}{'clean':>7}" + "".join(f"{s + ' dB':>8}" for s in snrs))
    for variant, entry in results["noise"].items():
        for kind in ("single", "ensemble"):
            row = entry[kind]
            if row is None:
                continue
            name = f"{variant} {kind}" + (f" x{row['members']}" if kind == "ensemble" else "")
            print(f"{name:<22}{pct(row['accuracy']):>7}" + "".join(f"{pct(row['per_snr'].get(s)):>8}" for s in snrs))
    pairs = [f"{a}->{b}" for a in LOADS for b in LOADS if a != b]
    print(f"\nAcross loads (train -> test HP, classes both have): accuracy %; ensembles x{args.members} by majority vote")
    print(f"{'model':<22}" + "".join(f"{p:>8}" for p in pairs) + f"{'avg':>8}")
    for kind, table in (("single", results["cross_load"]), (f"ensemble x{args.members}", results["cross_load_ensemble"])):
        for variant, cross in table.items():
            name = f"{variant}, {kind}"
            print(f"{name:<22}" + "".join(f"{pct(cross[p]['accuracy']):>8}" for p in pairs) + f"{pct(cross['average']):>8}")
    if results["cross_load_adabn"]:
        print("\nAdaBN across loads: target load's test split, without -> with BatchNorm statistics from the target's "
              "unlabeled training split: accuracy %")
        print(f"{'model':<22}" + "".join(f"{p:>8}" for p in pairs) + f"{'avg':>8}")
        for variant, tables in results["cross_load_adabn"].items():
            for kind in ("member_1", "ensemble"):
                if kind not in tables:
                    continue
                table = tables[kind]
                for label, key, avg in (("", "no_adapt", "average_no_adapt"), (" AdaBN", "adapted", "average")):
                    name = f"{variant}, {kind}{label}"
                    print(f"{name:<22}" + "".join(f"{pct(table[p][key]):>8}" for p in pairs) + f"{pct(table[avg]):>8}")
            if "each_member" in tables:
                each = tables["each_member"]
                print(f"  each member alone, average over the pairs: without {' '.join(pct(a) for a in each['average_no_adapt'])}"
                      f" | AdaBN {' '.join(pct(a) for a in each['average'])}")
    for variant, tables in results["cross_load_snr"].items():
        print(f"\nAcross loads and test noise ({variant}: {tables['tricks']}): accuracy %, trained -> tested HP")
        columns = ["clean"] + [f"{s:g}" for s in SNRS_DB]
        print(f"{'model':<14}{'pair':>8}" + "".join(f"{c if c == 'clean' else c + ' dB':>8}" for c in columns))
        for kind in ("member_1", "ensemble"):
            for pair, row in tables.get(kind, {}).items():
                print(f"{kind:<14}{pair:>8}" + "".join(f"{pct(row[c]):>8}" for c in columns))
    print(f"\nwrote {args.out} ({results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
