"""The fixtures and a TICNN built against a real upstream CMSIS-NN checkout, run on QEMU, bit-exact
with the reference interpreter.

No package registry carries CMSIS-NN, so the checkout is the user's: set EDGE_DEPLOY_CMSIS_NN to
its root (several, separated by ':', to test each; e.g. tags v6.0.0 and v7.0.0 and main of
https://github.com/ARM-software/CMSIS-NN checked out into folders of their own). Without it the
tests skip saying so; tests/test_build_firmware.py's stand-in layout and
tests/test_cmsis_nn_sources.py check the plumbing on edge-deploy's own sources everywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from codegen_models import ticnn_graph, ticnn_inputs
from op_checks import int8_batch

from edge_deploy.build.device_run import run_batch
from edge_deploy.build.firmware_build import build_graph, build_model
from edge_deploy.interp.interpreter import run
from edge_deploy.kernels.library import upstream_library
from edge_deploy.tflite import load_tflite

FIXTURES = Path(__file__).resolve().parent / "data" / "tflite"
CHECKOUTS = [path for path in os.environ.get("EDGE_DEPLOY_CMSIS_NN", "").split(os.pathsep) if path]
needs_upstream = pytest.mark.skipif(
    not CHECKOUTS, reason="EDGE_DEPLOY_CMSIS_NN names no upstream CMSIS-NN checkout (check out "
                          "https://github.com/ARM-software/CMSIS-NN, e.g. tag v7.0.0, and set it to that folder)")


def _symbols(elf: Path) -> set[str]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _check_build(result, checkout: str) -> None:
    """Every layer calls upstream's function where the checkout declares it (its wrapper for
    convolutions), else edge-deploy's kernel, named in report.json; only sources the model
    calls are compiled, none of them a half-precision one."""
    library = upstream_library(checkout)
    report = result.report
    linked = _symbols(result.elf)
    fallback = set(report["cmsis_nn"]["fallback_layers"])
    for layer in report["layers"]:
        if not layer["kernel"]:
            continue
        upstream = library.declares(layer["kernel"]) and layer["kernel"].startswith("arm_")
        assert (layer["c_function"] in fallback) != upstream, layer
        wrapper = layer["kernel"].replace("_s8", "_wrapper_s8")
        if layer["op"] in ("conv2d", "depthwise_conv2d") and library.declares(wrapper):
            assert wrapper in linked
    compiled = report["kernel_sources"].get("cmsis_nn", {}).get("sources", [])
    assert len(compiled) < len(library.index.files) / 3
    assert not [path for path in compiled if path.endswith("_f16.c")]
    assert report["cmsis_nn"]["api_level"] is not None  # it declares every v4.0.0 function


@needs_upstream
@pytest.mark.parametrize("checkout", CHECKOUTS)
def test_fixtures_on_upstream_cmsis_nn_are_bit_exact(qemu_arm, tmp_path, checkout):
    for model in sorted(FIXTURES.glob("*.tflite")):
        graph = load_tflite(model)
        result = build_model(model, "mps2-an386", tmp_path / model.stem, cmsis_nn=checkout)
        _check_build(result, checkout)
        batch = int8_batch(np.random.default_rng(4), graph, 6)
        outputs = run_batch(tmp_path / model.stem, batch).outputs
        assert np.array_equal(outputs, run(graph, batch)), model.name


@needs_upstream
@pytest.mark.parametrize("checkout", CHECKOUTS)
def test_ticnn_on_upstream_cmsis_nn_is_bit_exact_in_both_roundings(qemu_arm, tmp_path, checkout):
    graph = ticnn_graph()
    batch = ticnn_inputs(graph, 4)
    for rounding, policy in (("cmsis-nn", "double"), ("litert", "litert")):
        result = build_graph(graph, "mps2-an386", tmp_path / rounding, cmsis_nn=checkout, rounding=rounding)
        _check_build(result, checkout)
        model_c = (result.src_dir / "model.c").read_text()
        assert re.search(r"return arm_convolve_wrapper_s8\(", model_c) or not upstream_library(checkout).declares(
            "arm_convolve_wrapper_s8")
        assert np.array_equal(run_batch(tmp_path / rounding, batch).outputs, run(graph, batch, rounding=policy))


@needs_upstream
@pytest.mark.parametrize("checkout", CHECKOUTS)
def test_lstm_on_upstream_cmsis_nn_is_bit_exact_with_litert(qemu_arm, tmp_path, checkout):
    """The LSTM fixture over a sequence: the LSTM runs edge-deploy's kernel (upstream's
    arm_lstm_unidirectional_s8 interpolates its activations from a table and is not TFLite's),
    the dense layer upstream's where the checkout has it; built with --rounding litert (the dense
    layer rounds once in ai-edge-litert), the outputs equal ai-edge-litert's."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.tflite.oracle import run_litert

    model = FIXTURES / "lstm.tflite"
    graph = load_tflite(model)
    result = build_model(model, "mps2-an386", tmp_path / "lstm", cmsis_nn=checkout, rounding="litert")
    _check_build(result, checkout)
    lstm = next(layer for layer in result.report["layers"] if layer["op"] == "unidirectional_sequence_lstm")
    assert lstm["kernel"] == "ed_lstm_unidirectional_s8" and lstm["c_function"] in result.report["cmsis_nn"]["fallback_layers"]
    batch = int8_batch(np.random.default_rng(7), graph, 6)
    theirs = run_litert(model.read_bytes(), batch, graph.outputs)[graph.outputs[0]]
    assert np.array_equal(run_batch(tmp_path / "lstm", batch).outputs.reshape(theirs.shape), theirs)
