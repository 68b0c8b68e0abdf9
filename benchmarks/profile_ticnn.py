"""Benchmark: per-layer profile of TICNN dense, slimmed and Scalpel-pruned, SIMD vs portable kernels.

    python benchmarks/profile_ticnn.py [--dense D.pt] [--slimmed S.pt] [--scalpel P.pt]
                                       [--board mps2-an386] [--clock-mhz 168] [--build-arg ARG ...]
                                       [--work /tmp/edge-deploy-profile-bench] [--out benchmarks/results/profile_ticnn.json]

The checkpoints default to those of `python benchmarks/slim_ticnn.py --work runs/slim_bench`
(runs/slim_bench/{dense,slimming,scalpel}/model.pt). For each model and each kernel path
(`--kernels simd`, `--kernels portable`) the real CLI runs as a subprocess:

  edge-deploy build MODEL --board B --out DIR --kernels PATH [ARG ...]   (default --sparse auto:
                                                                        Scalpel gets its sparse kernels)
  edge-deploy profile DIR                                               (QEMU, exact instructions,
                                                                        Cortex-M4 model cycles)

and DIR/profile.json + DIR/report.json are read. Printed and written: per layer name, op, kernel,
MACs (as the build counts them: dense MACs, also for pruned layers; `nonzero_macs` in the JSON
counts only nonzero weights), instructions, cycles, MAC/cycle and latency at --clock-mhz; totals per build; the portable /
SIMD ratio per model; the wall time of each `edge-deploy profile` (Python start-up included).
`--build-arg` (repeatable) is passed to every build, e.g. `--build-arg=--winograd=off`.
Fails if the per-layer instructions or cycles do not add up to the profile's totals.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent
RUNS = REPO / "runs" / "slim_bench"
PATHS = ("simd", "portable")


def _cli(args: list[str]) -> tuple[float, str]:
    """Run `edge-deploy ARGS` as a subprocess; its wall time and stdout. Exits with its stderr on failure."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"edge-deploy {' '.join(args)} failed (exit {proc.returncode})")
    return seconds, proc.stdout


def collect(model: str, path: str, build_dir: Path, clock_mhz: float) -> dict:
    """Per-layer and total figures of one profiled build, checked for consistency."""
    profile = json.loads((build_dir / "profile.json").read_text())
    report = json.loads((build_dir / "report.json").read_text())
    ran = sorted((layer for layer in report["layers"] if layer.get("mark", layer["index"]) >= 0),
                 key=lambda layer: layer.get("mark", layer["index"]))
    if len(ran) != len(profile["layers"]):
        raise SystemExit(f"{model}/{path}: report.json has {len(ran)} layers with code, profile.json {len(profile['layers'])}")
    cycles_per_ms = clock_mhz * 1e3
    layers = []
    for built, measured in zip(ran, profile["layers"]):
        name = built.get("short_name", built["name"])
        if name != measured["name"]:
            raise SystemExit(f"{model}/{path}: layer order differs: report {name}, profile {measured['name']}")
        sparsity = built.get("sparsity") or {}
        nonzero = measured["macs"]
        if sparsity.get("total_weights"):  # MACs on nonzero weights (every output position uses each weight once)
            nonzero = measured["macs"] * (sparsity["total_weights"] - sparsity["zero_weights"]) // sparsity["total_weights"]
        layers.append({
            "name": name, "op": measured["op"], "kernel": built["kernel"], "macs": measured["macs"], "nonzero_macs": nonzero,
            "instructions": measured["instructions"], "cycles": measured["cycles"],
            "mac_per_cycle": round(measured["macs"] / measured["cycles"], 4) if measured["cycles"] else None,
            "latency_ms": round(measured["cycles"] / cycles_per_ms, 4),
        })
    for key in ("instructions", "cycles", "macs"):
        summed = sum(layer[key] for layer in layers)
        if summed != profile[key]:
            raise SystemExit(f"{model}/{path}: per-layer {key} sum to {summed:,}, the profile's total is {profile[key]:,}")
    if profile.get("inferences", 1) != 1:
        raise SystemExit(f"{model}/{path}: profile covers {profile['inferences']} inferences, expected 1")
    return {
        "layers": layers,
        "macs": profile["macs"], "instructions": profile["instructions"], "cycles": profile["cycles"],
        "mac_per_cycle": round(profile["macs"] / profile["cycles"], 4),
        "nonzero_macs": sum(layer["nonzero_macs"] for layer in layers),
        "nonzero_mac_per_cycle": round(sum(layer["nonzero_macs"] for layer in layers) / profile["cycles"], 4),
        "latency_ms": round(profile["cycles"] / cycles_per_ms, 4),
        "run_instructions": profile["run"]["instructions"], "source": profile["source"],
        "cycle_model": profile["cycle_model"], "kernels": report["kernels"],
        "flash_bytes": report["flash_bytes"], "weights_bytes": report["weights_bytes"],
        "ram_bytes": report["ram_bytes"],
    }


def print_build(b: dict, clock_mhz: float) -> None:
    print(f"\n{b['model']} / {b['path']}  ({b['checkpoint']})")
    print(f"  {'layer':<14}{'op':<17}{'kernel':<42}{'MACs':>9}{'instr':>11}{'cycles':>11}{'MAC/cyc':>8}"
          f"{'ms@' + format(clock_mhz, 'g'):>9}")
    for layer in b["layers"]:
        mpc = f"{layer['mac_per_cycle']:.3f}" if layer["mac_per_cycle"] is not None else "-"
        print(f"  {layer['name']:<14}{layer['op']:<17}{layer['kernel']:<42}{layer['macs']:>9,}"
              f"{layer['instructions']:>11,}{layer['cycles']:>11,}{mpc:>8}{layer['latency_ms']:>9.3f}")
    print(f"  {'total':<73}{b['macs']:>9,}{b['instructions']:>11,}{b['cycles']:>11,}"
          f"{b['mac_per_cycle']:>8.3f}{b['latency_ms']:>9.3f}")


def markdown(builds: list[dict], speedups: dict, clock_mhz: float) -> str:
    """The tables of docs/benchmarks.md: per layer of the dense SIMD build, then one row per build."""
    mhz = format(clock_mhz, "g")
    dense = next(b for b in builds if (b["model"], b["path"]) == ("dense", "simd"))
    lines = [f"| layer | op | kernel | MACs | instructions | cycles | MAC/cycle | ms at {mhz} MHz |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for layer in dense["layers"]:
        mpc = f"{layer['mac_per_cycle']:.3f}" if layer["macs"] else "-"
        lines.append(f"| {layer['name']} | {layer['op']} | `{layer['kernel']}` | {layer['macs']:,} | "
                     f"{layer['instructions']:,} | {layer['cycles']:,} | {mpc} | {layer['latency_ms']:.3f} |")
    lines.append(f"| **total** | | | {dense['macs']:,} | {dense['instructions']:,} | {dense['cycles']:,} | "
                 f"**{dense['mac_per_cycle']:.3f}** | **{dense['latency_ms']:.2f}** |")
    lines += ["", f"| model | path | instructions | cycles | MAC/cycle | ms at {mhz} MHz | portable / SIMD cycles | profile s |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for b in builds:
        ratio = f"{speedups[b['model']]['cycles']:.2f}x" if b["path"] == "simd" else ""
        lines.append(f"| {b['model']} | {b['path']} | {b['instructions']:,} | {b['cycles']:,} | {b['mac_per_cycle']:.3f} | "
                     f"{b['latency_ms']:.2f} | {ratio} | {b['profile_seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", default=str(RUNS / "dense" / "model.pt"))
    parser.add_argument("--slimmed", default=str(RUNS / "slimming" / "model.pt"))
    parser.add_argument("--scalpel", default=str(RUNS / "scalpel" / "model.pt"))
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--clock-mhz", type=float, default=168.0, help="clock for the latency column")
    parser.add_argument("--build-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for every `edge-deploy build` (repeatable; write --build-arg=--opt=value)")
    parser.add_argument("--work", default="/tmp/edge-deploy-profile-bench", help="build folders (replaced)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "profile_ticnn.json"))
    parser.add_argument("--markdown", action="store_true", help="also print the tables of docs/benchmarks.md")
    args = parser.parse_args(argv)

    from edge_deploy.fsutil import atomic_write_json

    models = {"dense": args.dense, "slimmed": args.slimmed, "scalpel": args.scalpel}
    missing = [f"--{name} {p}" for name, p in models.items() if not Path(p).is_file()]
    if missing:
        raise SystemExit("checkpoint not found: " + ", ".join(missing)
                         + " (train them with: python benchmarks/slim_ticnn.py --work runs/slim_bench)")
    state = source_state("firmware", "sdk", "templates")
    load_before = [round(x, 2) for x in os.getloadavg()]  # profile wall times depend on what else runs
    started = time.time()
    builds = []
    for model, checkpoint in models.items():
        for path in PATHS:
            build_dir = Path(args.work) / f"{model}-{path}"
            build_s, _ = _cli(["build", checkpoint, "--board", args.board, "--out", str(build_dir),
                               "--kernels", path, *args.build_arg])
            profile_s, stdout = _cli(["profile", str(build_dir)])
            inside = re.search(r"profile of \S+ in ([0-9.]+) s", stdout)
            entry = {"model": model, "path": path, "checkpoint": checkpoint, "build_dir": str(build_dir),
                     "build_seconds": round(build_s, 2), "profile_seconds": round(profile_s, 2),
                     "profile_seconds_reported": float(inside.group(1)) if inside else None}
            entry.update(collect(model, path, build_dir, args.clock_mhz))
            builds.append(entry)
            print_build(entry, args.clock_mhz)
            print(f"  build {build_s:.1f} s, profile {profile_s:.1f} s wall", flush=True)

    by_key = {(b["model"], b["path"]): b for b in builds}
    speedups = {}
    for model in models:
        simd, port = by_key[(model, "simd")], by_key[(model, "portable")]
        speedups[model] = {"cycles": round(port["cycles"] / simd["cycles"], 3),
                           "instructions": round(port["instructions"] / simd["instructions"], 3)}
    dense_simd = by_key[("dense", "simd")]
    print(f"\nsummary ({args.board}, latency at {args.clock_mhz:g} MHz; commit {state['commit']}"
          f"{', uncommitted changes under firmware/sdk/templates' if state['uncommitted'] else ''})")
    print(f"{'model':<9}{'path':<10}{'nonzero MACs':>13}{'instructions':>14}{'cycles':>13}{'MAC/cyc':>9}{'ms':>9}"
          f"{'vs dense':>10}{'profile s':>11}")
    for b in builds:
        print(f"{b['model']:<9}{b['path']:<10}{b['nonzero_macs']:>13,}{b['instructions']:>14,}{b['cycles']:>13,}"
              f"{b['mac_per_cycle']:>9.3f}"
              f"{b['latency_ms']:>9.3f}{dense_simd['cycles'] / b['cycles']:>9.2f}x{b['profile_seconds']:>11.1f}")
    for model, s in speedups.items():
        print(f"SIMD vs portable, {model}: {s['cycles']:.2f}x fewer cycles, {s['instructions']:.2f}x fewer instructions")
    slowest = max(builds, key=lambda b: b["profile_seconds"])
    print(f"slowest profile: {slowest['model']}/{slowest['path']} {slowest['profile_seconds']:.1f} s "
          f"({'under' if slowest['profile_seconds'] < 10 else 'OVER'} 10 s)")

    atomic_write_json(args.out, {
        "command": "python benchmarks/profile_ticnn.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "commit": state["commit"], "uncommitted": state["uncommitted"], "board": args.board,
        "clock_mhz": args.clock_mhz, "build_args": args.build_arg, "builds": builds, "speedup_simd_vs_portable": speedups,
        "max_profile_seconds": slowest["profile_seconds"], "seconds": round(time.time() - started, 1),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    })
    if args.markdown:
        print("\n" + markdown(builds, speedups, args.clock_mhz))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
