"""Benchmark: the int8 reference interpreter against the TFLite interpreter, every tensor.

    python benchmarks/tflite_parity.py --checkpoint RUN/model.pt [--data ../shared/data/cwru]
        [--samples 200] [--out benchmarks/results/tflite_parity.json]

For each int8 model (the .tflite files made by TensorFlow's converter in tests/data/tflite/, and
TICNN quantized from the checkpoint and exported by edge-deploy), runs ``--samples`` random int8
inputs through ai-edge-litert (reference kernels, all intermediate tensors kept) and through
edge_deploy.interp, and counts differing elements in every tensor. The interpreter's rounding
policy "litert" is used for that comparison; the mismatches under "double" (TFLM / CMSIS-NN, what
the firmware computes) are reported beside it. Then the int8-vs-float TICNN accuracy on the
CWRU test split. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent


def sample_batch(graph, samples: int, seed: int) -> np.ndarray:
    """Random samples for the graph's input: int8 (or uint8) bytes, or float32 for a model with a
    float interface."""
    x = graph.tensor(graph.inputs[0])
    rng = np.random.default_rng(seed)
    if x.dtype == "float32":
        return rng.normal(0.0, 3.0, (samples,) + x.shape[1:]).astype(np.float32)
    if x.dtype == "uint8":
        return rng.integers(0, 256, (samples,) + x.shape[1:]).astype(np.uint8)
    return rng.integers(-128, 128, (samples,) + x.shape[1:]).astype(np.int8)


def compare(graph, model_bytes: bytes, samples: int, seed: int) -> dict:
    from edge_deploy.interp.interpreter import run_graph
    from edge_deploy.tflite.oracle import run_litert

    batch = sample_batch(graph, samples, seed)
    names = graph.activations()
    theirs = run_litert(model_bytes, batch, names)
    row = {"ops": [op.kind for op in graph.ops], "samples": samples, "tensors": len(names)}
    for policy in ("litert", "double"):
        ours = run_graph(graph, batch, rounding=policy, keep_all=True)
        per_tensor = {n: int(np.sum(ours[n].view(np.uint8) != theirs[n].view(np.uint8))) for n in names}
        row[f"mismatches_{policy}"] = sum(per_tensor.values())
        row["elements_compared"] = int(sum(theirs[n].size for n in names))
        row[f"per_tensor_{policy}"] = {n: v for n, v in per_tensor.items() if v}
        row[f"output_mismatches_{policy}"] = int(sum(per_tensor[n] for n in graph.outputs))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a trained TICNN model.pt")
    parser.add_argument("--data", default=None, help="CWRU folder for the accuracy figure (default: the checkpoint's)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--snr", default="-4,0,4", help="test SNRs in dB for the float-vs-int8 accuracy under noise ('' for none)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "tflite_parity.json"))
    args = parser.parse_args(argv)

    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.pipeline import compare_accuracy, quantize_checkpoint
    from edge_deploy.tflite import export_tflite, load_tflite
    from edge_deploy.train.checkpoint import load_checkpoint

    started = time.time()
    results: dict = {"command": "python benchmarks/tflite_parity.py " + " ".join(argv or sys.argv[1:]), **source_state("sdk", "benchmarks/tflite_parity.py", "tests/data/tflite"),
                     "models": {}}
    for path in sorted((REPO / "tests" / "data" / "tflite").glob("*.tflite")):
        graph = load_tflite(path)
        results["models"][f"tf:{path.stem}"] = compare(graph, path.read_bytes(), args.samples, seed=1)
    checkpoint = load_checkpoint(args.checkpoint)
    quantized = quantize_checkpoint(checkpoint, args.data)
    results["models"]["edge-deploy:ticnn"] = compare(quantized.graph, export_tflite(quantized.graph), args.samples, seed=2)
    results["ticnn_accuracy"] = compare_accuracy(checkpoint, quantized.graph, args.data, "test")
    # The clean split is easy for TICNN; noisy windows show whether int8 loses what float keeps.
    snrs = [float(v) for v in args.snr.split(",") if v.strip()]
    results["ticnn_accuracy_noise"] = {f"{snr:g}": compare_accuracy(checkpoint, quantized.graph, args.data, "test", snr_db=snr)
                                       for snr in snrs}
    results["seconds"] = round(time.time() - started, 1)

    print(f"{'model':<24} {'ops':>4} {'tensors':>8} {'elements':>12} {'mism. litert':>13} {'mism. double':>13}")
    for name, row in results["models"].items():
        print(f"{name:<24} {len(row['ops']):>4} {row['tensors']:>8} {row['elements_compared']:>12,} "
              f"{row['mismatches_litert']:>13} {row['mismatches_double']:>13}")
    acc = results["ticnn_accuracy"]
    print(f"TICNN on {acc['windows']} CWRU test windows: float {100 * acc['float_accuracy']:.2f} %, "
          f"int8 {100 * acc['int8_accuracy']:.2f} %, agreement {100 * acc['agreement']:.2f} %")
    for snr, acc in results["ticnn_accuracy_noise"].items():
        print(f"  at {snr:>3} dB: float {100 * acc['float_accuracy']:.2f} %, int8 {100 * acc['int8_accuracy']:.2f} %, "
              f"difference {100 * (acc['int8_accuracy'] - acc['float_accuracy']):+.2f} points, "
              f"agreement {100 * acc['agreement']:.2f} %")
    atomic_write_json(args.out, results)
    print(f"commit {results['commit']}{' (uncommitted changes: ' + ', '.join(results['uncommitted']) + ')' if results['uncommitted'] else ''}; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
