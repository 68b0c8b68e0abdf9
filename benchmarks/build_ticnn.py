"""Benchmark: edge-deploy build + run of TICNN and the .tflite fixtures on QEMU mps2-an386.

    python benchmarks/build_ticnn.py [--checkpoint runs/ticnn/model.pt] [--n 200]
                                     [--work /tmp/edge-deploy-build-bench] [--out benchmarks/results/build_ticnn.json]

TICNN: the given checkpoint, or (default) a TICNN trained here on the bundled CWRU excerpt with
examples/ticnn_cwru.yaml shortened to --epochs epochs (cached in --work). It is quantized with
calibration windows of its training data and exported as .tflite; `edge-deploy build` of that
.tflite is timed as a subprocess (Python start-up included). Its inputs are the excerpt's test
windows (quantized), repeated if fewer than --n.

The fixtures (tests/data/tflite/*.tflite, the int8 models of the quantization work): --n random
int8 inputs each (the first two at the int8 limits).

For each model, three configurations: simd (the default build: the Winograd kernel with fused
pools where the cycle model picks it), simd --winograd off (the direct kernels), portable; for
TICNN a fourth, the default build for a copy of the board with 128 KiB of flash (--winograd auto
gives layers back to the direct kernel until the budget fits). Each: build, run every input over
the serial link on QEMU, compare with the reference interpreter (mismatches must be 0), and record
flash, RAM, arena and its lower bound, weights, MACs, the layers on the Winograd kernel, build and
run time. Prints a table, writes JSON with the git commit (and any uncommitted changes to the
code the firmware is generated from).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "data" / "tflite"
BOARD = "mps2-an386"
# (name, --kernels, --winograd, board flash in bytes or None for the board's own)
CONFIGS = [("simd", "simd", "auto", None), ("simd-winograd-off", "simd", "off", None),
           ("portable", "portable", "auto", None)]
SMALL_FLASH = ("simd-128k-flash", "simd", "auto", 128 * 1024)


def small_flash_board(work: Path, flash_bytes: int) -> Path:
    """A copy of BOARD's YAML with ``flash_bytes`` of flash (same QEMU machine)."""
    import yaml

    from edge_deploy.paths import resource_dir

    raw = yaml.safe_load((resource_dir("boards") / f"{BOARD}.yaml").read_text())
    raw["name"] = f"{BOARD}-{flash_bytes // 1024}k"
    raw["memory"]["flash"]["size"] = flash_bytes
    path = work / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def trained_ticnn(work: Path, epochs: int) -> Path:
    """A TICNN checkpoint trained on the bundled excerpt (cached in ``work``)."""
    import yaml

    from edge_deploy.train.config import parse_train_config
    from edge_deploy.train.run import train_checkpoint, write_training_outputs

    path = work / "ticnn" / "model.pt"
    if path.is_file():
        return path
    raw = yaml.safe_load((REPO / "examples" / "ticnn_cwru.yaml").read_text())
    raw["training"]["epochs"] = epochs
    raw["evaluate"]["snr_db"] = []
    started = time.monotonic()
    checkpoint = train_checkpoint(parse_train_config(raw, "examples/ticnn_cwru.yaml (benchmark)"), progress=False)
    write_training_outputs(checkpoint, path.parent)
    print(f"trained TICNN in {time.monotonic() - started:.0f} s: test accuracy "
          f"{checkpoint.metrics.get('accuracy', float('nan')) * 100:.1f} %")
    return path


def ticnn_tflite(checkpoint_path: Path, work: Path) -> tuple[Path, np.ndarray, dict]:
    """Quantize the checkpoint, export ``ticnn.tflite``; return it, test inputs and accuracy."""
    from edge_deploy.quantize.pipeline import compare_accuracy, load_split, quantize_checkpoint, to_ir_layout
    from edge_deploy.quantize.ptq import quantize_input
    from edge_deploy.tflite import export_tflite
    from edge_deploy.train.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(checkpoint_path)
    quantized = quantize_checkpoint(checkpoint)
    graph = quantized.graph
    graph.name = "ticnn"
    path = work / "ticnn.tflite"
    path.write_bytes(export_tflite(graph))
    x, _ = load_split(checkpoint, None, "test")
    inputs = quantize_input(to_ir_layout(x), graph.tensor(graph.inputs[0]).quant)
    return path, inputs, compare_accuracy(checkpoint, graph)


def ticnn_parameters(checkpoint_path: Path) -> int:
    """Trainable parameters of the checkpoint's model."""
    from edge_deploy.train.checkpoint import load_checkpoint

    return int(sum(p.numel() for p in load_checkpoint(checkpoint_path).model.parameters()))


def random_batch(model: Path, n: int) -> np.ndarray:
    from edge_deploy.tflite import load_tflite

    graph = load_tflite(model)
    shape = graph.tensor(graph.inputs[0]).shape[1:]
    batch = np.random.default_rng(0).integers(-128, 128, (n, *shape)).astype(np.int8)
    batch[0], batch[1] = 127, -128
    return batch


def build_and_check(model: Path, batch: np.ndarray, config: tuple, work: Path) -> dict:
    """Build ``model`` with the CLI in ``config`` (timed), run ``batch`` on QEMU, compare with the
    reference."""
    from edge_deploy.build.device_run import compare_outputs, reference_outputs, run_batch

    name, kernels, winograd, flash = config
    board = str(small_flash_board(work, flash)) if flash else BOARD
    out = work / f"{model.stem}-{name}"
    command = ["edge-deploy", "build", str(model), "--board", board, "--out", str(out), "--kernels", kernels,
               "--winograd", winograd]
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "edge_deploy", *command[1:]], check=True, capture_output=True)
    build_s = time.monotonic() - started
    report = json.loads((out / "report.json").read_text())
    started = time.monotonic()
    if flash:
        # report.json names the board, not its file: start QEMU from the file, talk to its port.
        from edge_deploy.emulators import start_emulator

        with start_emulator(board, out / "firmware.elf", emulator="qemu") as target:
            result = run_batch(out, batch, port=target.url)
    else:
        result = run_batch(out, batch, emulator="qemu")
    run_s = time.monotonic() - started
    check = compare_outputs(result.outputs, reference_outputs(out, batch))
    sequential = all(len(layer["input_shapes"]) == 1 for layer in report["layers"])
    return {
        "model": model.stem, "config": name, "kernels": kernels, "winograd": report["winograd"],
        "flash_fallback": report["kernel_policy"]["flash_fallback"],
        "board_flash_bytes": flash, "command": " ".join(command),
        "winograd_layers": [layer["name"] for layer in report["layers"]
                            if (layer["kernel"] or "").startswith(("ed_convolve_winograd", "ed_convolve_1d_winograd"))],
        "n": check["n"], "mismatches": check["mismatches"],
        "flash_bytes": report["flash_bytes"], "ram_bytes": report["ram_bytes"],
        "arena_bytes": report["arena_bytes"], "arena_lower_bound_bytes": report["arena_lower_bound_bytes"],
        "sequential": sequential, "weights_bytes": report["weights_bytes"], "macs": report["macs"],
        "n_layers": report["n_layers"], "build_seconds": round(build_s, 2), "run_seconds": round(run_s, 1),
        "systick_cycles_per_inference": float(result.total_cycles.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="TICNN model.pt (default: train one on the excerpt)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs when training TICNN here")
    parser.add_argument("--n", type=int, default=200, help="inputs per model")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-build-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "build_ticnn.json")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    git = source_state("sdk", "firmware", "templates", "boards")  # before the builds: the code they ran
    checkpoint = args.checkpoint or trained_ticnn(args.work, args.epochs)
    ticnn, ticnn_inputs, accuracy = ticnn_tflite(checkpoint, args.work)
    reps = -(-args.n // len(ticnn_inputs))
    models = [(ticnn, np.concatenate([ticnn_inputs] * reps)[: args.n])]
    models += [(path, random_batch(path, args.n)) for path in sorted(FIXTURES.glob("*.tflite"))]
    rows = []
    for model, batch in models:
        for config in CONFIGS + ([SMALL_FLASH] if model == ticnn else []):
            row = build_and_check(model, batch, config, args.work)
            rows.append(row)
            print(f"{row['model']:<13} {row['config']:<17} n={row['n']} mismatches={row['mismatches']} "
                  f"winograd={len(row['winograd_layers'])} cycles={row['systick_cycles_per_inference']:,.0f} "
                  f"flash={row['flash_bytes']:,} ram={row['ram_bytes']:,} arena={row['arena_bytes']:,} "
                  f"(bound {row['arena_lower_bound_bytes']:,}) weights={row['weights_bytes']:,} "
                  f"macs={row['macs']:,} build={row['build_seconds']} s run={row['run_seconds']} s", flush=True)
    result = {
        "command": "python benchmarks/build_ticnn.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "board": BOARD,
        "git": git,
        "ticnn_checkpoint": str(checkpoint),
        "ticnn_accuracy": accuracy,
        "rows": rows,
        "all_match": all(r["mismatches"] == 0 for r in rows),
        "sequential_arena_at_lower_bound": all(r["arena_bytes"] == r["arena_lower_bound_bytes"]
                                               for r in rows if r["sequential"]),
        "ticnn_build_seconds": max(r["build_seconds"] for r in rows if r["model"] == "ticnn"),
        "ticnn_parameters": ticnn_parameters(checkpoint),
    }
    from edge_deploy.fsutil import atomic_write_json

    atomic_write_json(args.out, result)
    print(f"all match: {result['all_match']}; sequential arenas at the lower bound: "
          f"{result['sequential_arena_at_lower_bound']}; TICNN build {result['ticnn_build_seconds']} s -> {args.out}")
    return 0 if result["all_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
