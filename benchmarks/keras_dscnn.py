"""Benchmark: a Keras DS-CNN (MLPerf Tiny's keyword-spotting shape, 49 x 10 x 1, random weights)
through TensorFlow's converter to firmware on QEMU. Needs the tensorflow extra.

    python benchmarks/keras_dscnn.py [--inputs 200] [--calib 256] [--board mps2-an386]
                                     [--work /tmp/edge-deploy-keras-dscnn]
                                     [--out benchmarks/results/keras_dscnn.json]

The model is ``edge_deploy.testing.keras_models.dscnn()`` (seed 0: He-normal kernels, random
batch-norm statistics), saved as ``model.keras``. Inputs are drawn from one distribution
(independent standard normal features): ``--calib`` samples to calibrate (seed 0) and ``--inputs``
others to test (seed 1). Through the real CLI (a subprocess each):

  int8 interface:    edge-deploy build model.keras --calib calib.npy --board B --out D/int8
  float interface:   edge-deploy quantize model.keras --calib calib.npy --float-io --out float_io.tflite
                     edge-deploy build float_io.tflite --board B --out D/float_io
  each:              edge-deploy run D/... --inputs test.npy --out y.npy --check   (QEMU vs interpreter)

and, in process, the float Keras model against the int8 reference interpreter on the test inputs
(top-1 agreement, largest output difference), and the reference interpreter (litert rounding)
against ai-edge-litert's reference kernels on the converted .tflite (outputs that differ).
Prints a table, writes JSON, exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent
SHAPE = (49, 10, 1)


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"edge-deploy {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _litert_mismatches(model: bytes, graph, x: np.ndarray) -> int:
    """Samples whose outputs differ between ai-edge-litert's reference kernels and the reference
    interpreter with its litert rounding, on the model's own interface dtype."""
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.ptq import quantize_input
    from edge_deploy.tflite.oracle import run_litert

    source = graph.tensor(graph.inputs[0])
    batch = quantize_input(x, source.quant) if source.dtype == "int8" else x
    oracle = next(iter(run_litert(model, batch).values()))
    ours = run(graph, batch, rounding="litert")
    return int((oracle.reshape(len(x), -1) != ours.reshape(len(x), -1)).any(axis=1).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=200, help="test inputs (float agreement and QEMU)")
    parser.add_argument("--calib", type=int, default=256, help="calibration samples")
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--work", default="/tmp/edge-deploy-keras-dscnn")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "keras_dscnn.json"))
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.tf_convert import top1_agreement
    from edge_deploy.testing.keras_models import dscnn
    from edge_deploy.tflite import load_tflite

    started = time.monotonic()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = dscnn(SHAPE)
    model.save(work / "model.keras")
    calib = np.random.default_rng(0).standard_normal((args.calib, *SHAPE)).astype(np.float32)
    test = np.random.default_rng(1).standard_normal((args.inputs, *SHAPE)).astype(np.float32)
    np.save(work / "calib.npy", calib)
    np.save(work / "test.npy", test)
    float_model = keras.models.load_model(work / "model.keras")

    def keras_outputs(x):
        return float_model(x, training=False)

    variants = {}
    for name in ("int8", "float_io"):
        build = work / name
        t0 = time.monotonic()
        if name == "int8":
            _cli("build", str(work / "model.keras"), "--calib", str(work / "calib.npy"), "--board", args.board,
                 "--out", str(build))
        else:
            _cli("quantize", str(work / "model.keras"), "--calib", str(work / "calib.npy"), "--float-io",
                 "--out", str(work / "float_io.tflite"))
            _cli("build", str(work / "float_io.tflite"), "--board", args.board, "--out", str(build))
        built_seconds = time.monotonic() - t0
        print(f"{name}: built in {built_seconds:.1f} s; running {args.inputs} inputs on {args.board} ...", flush=True)
        _cli("run", str(build), "--inputs", str(work / "test.npy"), "--out", str(work / f"{name}_y.npy"), "--check")
        check = json.loads((build / "check.json").read_text())
        report = json.loads((build / "report.json").read_text())
        graph = load_tflite(build / "model.tflite")
        agreement = top1_agreement(keras_outputs, graph, test)
        litert = _litert_mismatches((build / "model.tflite").read_bytes(), graph, test)
        variants[name] = {
            "interface": graph.tensor(graph.inputs[0]).dtype,
            "ops": [op.kind for op in graph.ops],
            "qemu": {"inputs": check["n"], "mismatches": check["mismatches"]},
            "float_vs_int8": agreement,
            "litert_vs_interpreter_mismatches": litert,
            "flash_bytes": report["flash_bytes"], "arena_bytes": report["arena_bytes"], "macs": report["macs"],
            "build_seconds": round(built_seconds, 1),
        }
    import tensorflow as tf

    result = {
        "model": "DS-CNN (MLPerf Tiny KWS shape), Keras, random weights seed 0",
        "input": list(SHAPE), "params": int(model.count_params()), "board": args.board,
        "calibration": {"samples": args.calib, "distribution": "standard normal, seed 0"},
        "test": {"inputs": args.inputs, "distribution": "standard normal, seed 1"},
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "variants": variants,
        "source": source_state("sdk", "benchmarks/keras_dscnn.py"),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\n{'interface':<10}{'ops':>5}{'flash B':>9}{'arena B':>9}{'QEMU mismatches':>17}"
          f"{'top-1 agreement':>17}{'max |diff|':>12}{'vs ai-edge-litert':>19}")
    for name, row in variants.items():
        qemu, agree = row["qemu"], row["float_vs_int8"]
        print(f"{row['interface']:<10}{len(row['ops']):>5}{row['flash_bytes']:>9,}{row['arena_bytes']:>9,}"
              f"{qemu['mismatches']:>9} / {qemu['inputs']:<5}{100 * agree['agreement']:>16.1f}%{agree['max_abs_error']:>12.4g}"
              f"{row['litert_vs_interpreter_mismatches']:>13} / {qemu['inputs']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    print(f"wrote {args.out} ({result['seconds']} s)")
    bad = any(row["qemu"]["mismatches"] or row["litert_vs_interpreter_mismatches"] for row in variants.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
