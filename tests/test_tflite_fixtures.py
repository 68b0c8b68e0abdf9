"""Models made by TensorFlow's own converter (tests/data/tflite/, benchmarks/make_tflite_fixtures.py;
svdf.tflite by edge-deploy's writer, as the converter makes no SVDF from Keras) import and run
bit-exactly: every tensor against ai-edge-litert's reference kernels (a batch runs as one sequence
of invocations, so a model's state carries over), through our .tflite round trip, and (the
models of issue 12's ops) built for mps2-an386 and run on QEMU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.cli import main
from edge_deploy.interp.interpreter import run_graph
from edge_deploy.tflite import export_tflite, load_tflite
from op_checks import int8_batch, qemu_check

FIXTURES = sorted((Path(__file__).parent / "data" / "tflite").glob("*.tflite"))
# The models of issue 12's ops (the others run on QEMU in the build tests).
OP_MODELS = ["activations", "batch_matmul", "data_movement", "float_io", "mobilenet_v3_block", "pytorch_style",
             "transpose_conv", "uint8_io"]


def test_fixtures_cover_the_ops():
    from edge_deploy.ops import op_kinds

    kinds = {op.kind for path in FIXTURES for op in load_tflite(path).ops}
    assert kinds == set(op_kinds())
    assert load_tflite(FIXTURES[0].parent / "pytorch_style.tflite").ops[0].kind == "transpose"
    boundary = load_tflite(FIXTURES[0].parent / "float_io.tflite")
    assert [boundary.tensor(n).dtype for n in boundary.inputs + boundary.outputs] == ["float32", "float32"]
    mobilenet = load_tflite(FIXTURES[0].parent / "mobilenet_v3_block.tflite")
    gate = [op for op in mobilenet.ops if op.kind == "mul" and mobilenet.tensor(op.inputs[1]).shape[1:3] == (1, 1)]
    assert gate and "hard_swish" in {op.kind for op in mobilenet.ops}  # squeeze-excite


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tensorflow_model_matches_tflite_in_every_tensor(path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.tflite.oracle import run_litert

    graph = load_tflite(path)
    batch = int8_batch(np.random.default_rng(5), graph, 25)
    names = graph.activations()
    ours = run_graph(graph, batch, rounding="litert", keep_all=True)
    theirs = run_litert(path.read_bytes(), batch, names)
    assert {n: int(np.sum(ours[n].view(np.uint8) != theirs[n].view(np.uint8))) for n in names} == \
        {n: 0 for n in names}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_tensorflow_model_survives_our_round_trip(path):
    graph = load_tflite(path)
    again = load_tflite_bytes(export_tflite(graph))
    batch = int8_batch(np.random.default_rng(6), graph, 4)
    ours, theirs = run_graph(graph, batch)[graph.outputs[0]], run_graph(again, batch)[again.outputs[0]]
    assert np.array_equal(ours.view(np.uint8), theirs.view(np.uint8))


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


@pytest.mark.qemu
@pytest.mark.parametrize("name", OP_MODELS)
def test_tensorflow_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path, name):
    """Built as converted (float32 / uint8 interfaces included), every sample's output equal bit
    for bit to the reference interpreter's, over the serial link."""
    graph = load_tflite(FIXTURES[0].parent / f"{name}.tflite")
    report = qemu_check(graph, int8_batch(np.random.default_rng(8), graph, 5), tmp_path / name)
    assert report["input"]["dtype"] == graph.tensor(graph.inputs[0]).dtype


@pytest.mark.qemu
def test_svdf_model_runs_a_sequence_bit_exact_on_qemu(qemu_arm, tmp_path, capsys):
    """Two stacked SVDF layers: the firmware keeps both states across the inputs of one run, as
    the interpreter does over the same sequence; a sequence where the state changes the outputs
    (the same inputs run one at a time from a zero state give others)."""
    graph = load_tflite(FIXTURES[0].parent / "svdf.tflite")
    assert graph.variables() == ["svdf1/state", "svdf2/state"]
    batch = int8_batch(np.random.default_rng(9), graph, 12)
    out = graph.outputs[0]
    alone = np.concatenate([run_graph(graph, batch[i:i + 1])[out] for i in range(len(batch))])
    assert np.sum(alone != run_graph(graph, batch)[out]) > 0
    assert main(["inspect", str(FIXTURES[0].parent / "svdf.tflite")]) == 0
    report = qemu_check(graph, batch, tmp_path / "svdf")
    assert report["state_bytes"] == sum(graph.tensor(n).nbytes for n in graph.variables()) == 448
    assert report["budget"]["state_bytes"] == 448
    assert "state: 2 variable tensor(s), 448 bytes" in capsys.readouterr().out


@pytest.mark.parametrize("rounding, policy", [("cmsis-nn", "double"), ("litert", "litert")])
def test_lstm_runs_on_qemu_as_litert_over_a_sequence(qemu_arm, tmp_path, rounding, policy):
    """UNIDIRECTIONAL_SEQUENCE_LSTM with its output and cell state carried from one input to the
    next (variable tensors): over a sequence the firmware's outputs equal the interpreter's
    (run --check, either rounding), and with --rounding litert (the dense layer after it rounds
    once there) ai-edge-litert's; runs that each start from a zero state differ."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.tflite.oracle import run_litert

    path = FIXTURES[0].parent / "lstm.tflite"
    graph = load_tflite(path)
    assert [op.kind for op in graph.ops] == ["unidirectional_sequence_lstm", "fully_connected"]
    batch = int8_batch(np.random.default_rng(9), graph, 6)
    out = tmp_path / "lstm"
    build_graph(graph, "mps2-an386", out, rounding=rounding)
    np.save(out / "x.npy", batch)
    assert main(["run", str(out), "--inputs", str(out / "x.npy"), "--out", str(out / "y.npy"), "--check"]) == 0
    assert json.loads((out / "check.json").read_text())["mismatches"] == 0
    firmware = np.load(out / "y.npy")
    ours = run_graph(graph, batch, rounding=policy)[graph.outputs[0]]
    assert np.array_equal(firmware.reshape(ours.shape), ours)
    if rounding == "litert":
        assert np.array_equal(ours, run_litert(path.read_bytes(), batch, graph.outputs)[graph.outputs[0]])
    fresh = np.concatenate([run_graph(graph, batch[i:i + 1], rounding=policy)[graph.outputs[0]]
                            for i in range(len(batch))])
    assert np.array_equal(fresh[:1], ours[:1]) and not np.array_equal(fresh[1:], ours[1:])
