"""The four MLPerf Tiny reference models, unmodified, on mps2-an386 under QEMU: the default build
bit-exact with the reference interpreter (TFLM + CMSIS-NN rounding), the ``--rounding litert``
build bit-exact with ai-edge-litert's reference kernels. A few inputs each; benchmarks/
mlperf_models.py runs 100 and measures them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlperf_data import MISSING, MLPERF

from edge_deploy.build.device_run import run_batch
from edge_deploy.build.firmware_build import build_model
from edge_deploy.interp.interpreter import run
from edge_deploy.tflite import load_tflite
from edge_deploy.tflite.oracle import run_litert

MODELS = ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8")


@pytest.fixture(scope="module")
def mlperf_dir() -> Path:
    if not all((MLPERF / f"{name}.tflite").is_file() for name in MODELS):
        pytest.skip(MISSING)
    return MLPERF


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_tiny_model_is_bit_exact_in_both_roundings(qemu_arm, mlperf_dir, tmp_path, name):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
    model = mlperf_dir / f"{name}.tflite"
    graph = load_tflite(model)
    batch = np.random.default_rng(7).integers(-128, 128, (4, *graph.tensor(graph.inputs[0]).shape[1:]), dtype=np.int8)
    default = build_model(model, "mps2-an386", tmp_path / "default")
    assert default.report["arena_bytes"] == default.report["arena_lower_bound_bytes"]
    assert np.array_equal(run_batch(tmp_path / "default", batch).outputs, run(graph, batch))
    build_model(model, "mps2-an386", tmp_path / "litert", rounding="litert")
    outputs = run_batch(tmp_path / "litert", batch).outputs
    oracle = next(iter(run_litert(model.read_bytes(), batch).values()))
    assert np.array_equal(outputs, oracle.reshape(outputs.shape))
    assert np.array_equal(outputs, run(graph, batch, rounding="litert"))
