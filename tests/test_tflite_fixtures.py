"""Models made by TensorFlow's own converter (tests/data/tflite/) import and run bit-exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_deploy.cli import main
from edge_deploy.interp.interpreter import run_graph
from edge_deploy.tflite import export_tflite, load_tflite

FIXTURES = sorted((Path(__file__).parent / "data" / "tflite").glob("*.tflite"))


def test_fixtures_cover_the_ops():
    kinds = {op.kind for path in FIXTURES for op in load_tflite(path).ops}
    assert {"conv2d", "depthwise_conv2d", "fully_connected", "max_pool2d", "avg_pool2d", "add", "softmax",
            "pad", "reshape", "mean"} <= kinds


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tensorflow_model_matches_tflite_in_every_tensor(path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.tflite.oracle import run_litert

    graph = load_tflite(path)
    batch = np.random.default_rng(5).integers(-128, 128, (25,) + graph.tensor(graph.inputs[0]).shape[1:]).astype(np.int8)
    names = graph.activations()
    ours = run_graph(graph, batch, rounding="litert", keep_all=True)
    theirs = run_litert(path.read_bytes(), batch, names)
    assert {n: int(np.sum(ours[n] != theirs[n])) for n in names} == {n: 0 for n in names}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tensorflow_model_survives_our_round_trip(path):
    graph = load_tflite(path)
    again = load_tflite_bytes(export_tflite(graph))
    batch = np.random.default_rng(6).integers(-128, 128, (4,) + graph.tensor(graph.inputs[0]).shape[1:]).astype(np.int8)
    assert np.array_equal(run_graph(graph, batch)[graph.outputs[0]], run_graph(again, batch)[again.outputs[0]])


def load_tflite_bytes(data):
    from edge_deploy.tflite import import_tflite

    return import_tflite(data)


def test_inspect_lists_layers_and_macs(capsys):
    path = next(p for p in FIXTURES if p.stem == "conv2d")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    graph = load_tflite(path)
    conv = graph.ops[0]
    w = graph.tensor(conv.inputs[1]).shape
    macs = int(np.prod(graph.tensor(conv.outputs[0]).shape)) * w[1] * w[2] * w[3]
    assert f"{macs:,}" in out and "fully_connected" in out and "total:" in out


def test_inspect_rejects_a_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(FIXTURES[0].read_bytes()[:300])
    assert main(["inspect", str(bad)]) == 1
    assert "error:" in capsys.readouterr().err
