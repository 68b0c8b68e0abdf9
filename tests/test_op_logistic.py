"""LOGISTIC (sigmoid) and the map-by-gate multiply, the two ops of an attention gate: the int8
table bit-exact with ai-edge-litert's reference kernels, the .tflite round trip, the PyTorch
lowering of a squeeze-and-excitation block, and a gated model on QEMU (the sigmoid as a
256-entry table, ed_lut_s8; the gate multiply broadcast per pixel)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_deploy.interp.interpreter import run
from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder
from edge_deploy.ops.logistic import logistic_s8
from edge_deploy.tflite import export_tflite, import_tflite

ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 4, 8, 8)


def q(scale: float, zp: int) -> QuantParams:
    return QuantParams([float(np.float32(scale))], [zp])


def sigmoid_graph(scale: float, zp: int):
    b = GraphBuilder("sigmoid", "int8")
    x = b.input("x", (1, 4, 8, 8), q(scale, zp))
    return b.finish([b.logistic(x, "sig", quant=q(1 / 256, -128))])


def gate_graph(rng, hw=(3, 5), c=8, gate_first=False):
    """x -> global mean -> 1x1 conv -> sigmoid -> x * gate (a squeeze-and-excitation block)."""
    b = GraphBuilder("gate", "int8")
    x = b.input("x", (1, *hw, c), q(0.05, 3))
    pooled = b.mean(x, "pool", axis=(1, 2), keep_dims=True, quant=q(0.04, 1))
    ws = rng.uniform(0.002, 0.02, c).astype(np.float32)
    w = rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)
    bias = rng.integers(-500, 500, c).astype(np.int32)
    fc = b.conv2d(pooled, "fc", w, bias, quant=q(0.06, -7), w_quant=QuantParams(ws, np.zeros(c), 0),
                  b_quant=QuantParams(ws * np.float32(0.04), np.zeros(c), 0))
    gate = b.logistic(fc, "sig", quant=q(1 / 256, -128))
    operands = (gate, x) if gate_first else (x, gate)
    return b.finish([b.mul(*operands, "scaled", quant=q(0.03, -2))])


def test_sigmoid_table_matches_litert_reference_kernels():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
    from edge_deploy.tflite.oracle import run_litert

    rng = np.random.default_rng(0)
    for scale, zp in [(1 / 16, 0), (0.1, -128), (0.0371, 127)] + [
            (float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128))) for _ in range(20)]:
        graph = sigmoid_graph(scale, zp)
        theirs = run_litert(export_tflite(graph), ALL_INT8)["sig"]
        assert np.array_equal(run(graph, ALL_INT8), theirs), (scale, zp)
    # Saturation at both ends and 0 -> one half (128 / 256, i.e. int8 0).
    ends = logistic_s8(np.array([-128, 0, 127], np.int8), input_scale=0.1, input_zero_point=0,
                       output_scale=1 / 256, output_zero_point=-128)
    assert ends.tolist() == [-128, 0, 127]


def test_sigmoid_round_trips_through_tflite_and_refuses_another_output_scale():
    graph = sigmoid_graph(0.05, -4)
    back = import_tflite(export_tflite(graph))
    assert [op.kind for op in back.ops] == ["logistic"]
    assert np.array_equal(run(graph, ALL_INT8), run(back, ALL_INT8))
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.ops import validate

    graph.tensor("sig").quant = q(1 / 128, -128)
    with pytest.raises(EdgeDeployError, match="must have scale 1/256 and zero point -128"):
        validate(graph)


@pytest.mark.parametrize("gate_first", [False, True])
def test_gate_multiply_broadcasts_per_channel_in_either_order(gate_first):
    graph = gate_graph(np.random.default_rng(1), gate_first=gate_first)
    x = np.random.default_rng(2).integers(-128, 128, (4, 3, 5, 8)).astype(np.int8)
    y = run(graph, x)
    assert y.shape == (4, 3, 5, 8)
    back = import_tflite(export_tflite(graph))
    assert np.array_equal(run(back, x), y)


def test_squeeze_excite_block_lowers_from_pytorch():
    torch = pytest.importorskip("torch")
    from edge_deploy.models.layers import ChannelAttention
    from edge_deploy.quantize.lower import lower_module

    torch.manual_seed(0)
    model = ChannelAttention(8, 4).eval()
    graph = lower_module(model, (1, 8, 5, 6))
    assert [op.kind for op in graph.ops] == ["mean", "conv2d", "conv2d", "logistic", "mul"]
    x = torch.randn(3, 8, 5, 6)
    expected = model(x).detach().numpy().transpose(0, 2, 3, 1)
    assert np.allclose(run(graph, x.numpy().transpose(0, 2, 3, 1)), expected, atol=1e-5)


@pytest.mark.qemu
def test_gated_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path, capsys):
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main

    graph = gate_graph(np.random.default_rng(3), gate_first=True)
    out = tmp_path / "build"
    report = build_graph(graph, "mps2-an386", out).report
    assert [layer["kernel"] for layer in report["layers"]][-2:] == ["ed_lut_s8", "ed_elementwise_mul_s8"]
    np.save(tmp_path / "x.npy", np.random.default_rng(4).integers(-128, 128, (5, 3, 5, 8)).astype(np.int8))
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    assert json.loads((out / "check.json").read_text())["mismatches"] == 0
