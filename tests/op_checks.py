"""What the op tests share: the int8 interpreter against ai-edge-litert's reference kernels on a
graph exported by edge_deploy.tflite, the .tflite round trip, and a whole graph built for
mps2-an386 and run on QEMU with ``run --check``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.interp.interpreter import run_graph
from edge_deploy.ir import Graph, QuantParams
from edge_deploy.tflite import export_tflite, import_tflite


def q(scale: float, zero_point: int) -> QuantParams:
    """Per-tensor quantization with a float32 scale."""
    return QuantParams([float(np.float32(scale))], [int(zero_point)])


def random_q(rng: np.random.Generator, low: float = 0.005, high: float = 0.2) -> QuantParams:
    """A random int8 activation quantization."""
    return q(rng.uniform(low, high), int(rng.integers(-128, 128)))


def int8_batch(rng: np.random.Generator, graph: Graph, n: int) -> np.ndarray:
    """``n`` random samples for the graph's single input (int8, uint8 or float32)."""
    t = graph.tensor(graph.inputs[0])
    shape = (n,) + tuple(t.shape[1:])
    if t.dtype == "float32":
        return rng.normal(0.0, 3.0, shape).astype(np.float32)
    return rng.integers(0, 256, shape).astype(np.uint8).view(t.dtype)


def mismatches_with_litert(graph: Graph, batch: np.ndarray, names: list[str] | None = None) -> dict[str, int]:
    """Elements that differ between our interpreter (litert rounding) and ai-edge-litert's
    reference kernels, per tensor (every activation by default), on the exported graph."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
    from edge_deploy.tflite.oracle import run_litert

    names = names or graph.activations()
    ours = run_graph(graph, batch, rounding="litert", keep_all=True)
    theirs = run_litert(export_tflite(graph), batch, names)
    return {n: int(np.sum(_bits(ours[n]) != _bits(theirs[n]))) for n in names}


def _bits(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.view(np.int32) if values.dtype == np.float32 else values.astype(np.int64)


def round_trip_equal(graph: Graph, batch: np.ndarray) -> Graph:
    """Export and re-import ``graph``; assert the two give the same outputs; return the copy."""
    back = import_tflite(export_tflite(graph))
    a, b = run_graph(graph, batch)[graph.outputs[0]], run_graph(back, batch)[back.outputs[0]]
    assert np.array_equal(_bits(a), _bits(b))
    return back


def qemu_check(graph: Graph, batch: np.ndarray, out: Path) -> dict:
    """Build ``graph`` for mps2-an386, run ``batch`` on QEMU with ``run --check``; returns
    report.json (asserting check.json says 0 mismatches)."""
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main

    report = build_graph(graph, "mps2-an386", out).report
    np.save(out / "x.npy", batch)
    status = main(["run", str(out), "--inputs", str(out / "x.npy"), "--out", str(out / "y.npy"), "--check"])
    check = json.loads((out / "check.json").read_text()) if (out / "check.json").is_file() else {}
    assert status == 0 and check.get("mismatches") == 0, check
    return report
