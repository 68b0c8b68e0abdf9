"""MUL end to end (the op added through docs/adding-an-op.md): the int8 reference bit-exact with
ai-edge-litert's reference kernels, the .tflite round trip, the PyTorch lowering, the kernel
(arm_elementwise_mul_s8) on both host paths, and a whole model on QEMU checked against the
interpreter."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_deploy.interp.interpreter import run, run_graph
from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder
from edge_deploy.ops.mul import mul_s8
from edge_deploy.tflite import export_tflite, import_tflite
from kernel_runner import HostKernels


def q(scale: float, zp: int) -> QuantParams:
    return QuantParams([float(np.float32(scale))], [zp])


def mul_graph(rng, shape=(1, 4, 5, 8), out=(0.03, -5), activation="none"):
    """x -> two 1x1 convolutions with their own scales -> MUL (a gate: equal shapes)."""
    b = GraphBuilder("mul_model", "int8")
    x = b.input("x", shape, q(0.05, 3))
    c = shape[3]
    branches = []
    for name, scale, zp in (("left", rng.uniform(0.01, 0.2), int(rng.integers(-128, 128))),
                            ("right", rng.uniform(0.01, 0.2), int(rng.integers(-128, 128)))):
        ws = rng.uniform(0.002, 0.02, c).astype(np.float32)
        w = rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)
        bias = rng.integers(-500, 500, c).astype(np.int32)  # TFLite's int8 CONV_2D wants a bias
        branches.append(b.conv2d(x, name, w, bias, quant=q(scale, zp), w_quant=QuantParams(ws, np.zeros(c), 0),
                                 b_quant=QuantParams(ws * np.float32(0.05), np.zeros(c), 0)))
    return b.finish([b.mul(*branches, "gate", quant=q(*out), activation=activation)])


@pytest.mark.parametrize("activation", ["none", "relu", "relu6"])
@given(seed=st.integers(0, 2**31), out_scale=st.floats(-9.0, 1.0), out_zp=st.integers(-128, 127))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mul_matches_litert_reference_kernels(activation, seed, out_scale, out_zp):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
    from edge_deploy.tflite.oracle import run_litert

    rng = np.random.default_rng(seed)
    graph = mul_graph(rng, out=(2.0 ** out_scale * 1.37, out_zp), activation=activation)
    batch = rng.integers(-128, 128, (8, 4, 5, 8)).astype(np.int8)
    ours = run_graph(graph, batch, rounding="litert")["gate"]
    theirs = run_litert(export_tflite(graph), batch)["gate"]
    assert np.array_equal(ours, theirs)


def test_mul_round_trips_through_tflite():
    graph = mul_graph(np.random.default_rng(1), activation="relu")
    back = import_tflite(export_tflite(graph))
    mul = next(op for op in back.ops if op.kind == "mul")
    assert mul.attrs == {"activation": "relu"} and len(mul.inputs) == 2
    x = np.random.default_rng(2).integers(-128, 128, (5, 4, 5, 8)).astype(np.int8)
    assert np.array_equal(run(graph, x), run(back, x))


def test_mul_broadcasts_in_the_reference_and_lowers_from_pytorch():
    torch = pytest.importorskip("torch")
    from edge_deploy.quantize.lower import lower_module

    a = np.arange(-8, 8, dtype=np.int8).reshape(1, 1, 2, 8)
    gate = np.arange(8, dtype=np.int8).reshape(1, 1, 1, 8)
    out = mul_s8(a, gate, input1_offset=0, input2_offset=0, output_offset=0, out_mult=1 << 30, out_shift=1)
    assert out.shape == (1, 1, 2, 8) and np.array_equal(out, np.clip(a.astype(int) * gate, -128, 127))

    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Conv1d(4, 4, 1), torch.nn.Conv1d(4, 4, 1)

        def forward(self, x):
            return self.a(x) * self.b(x)

    model = Gate().eval()
    graph = lower_module(model, (1, 4, 16))
    assert [op.kind for op in graph.ops] == ["conv2d", "conv2d", "mul"]
    x = torch.randn(3, 4, 16)
    expected = model(x).detach().numpy().transpose(0, 2, 1)[:, None]
    assert np.allclose(run(graph, x.numpy().transpose(0, 2, 1)[:, None]), expected, atol=1e-5)


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_mul_kernel_on_the_host(path):
    rng = np.random.default_rng(7)
    kernels = HostKernels(path)
    cases = []
    for size, (o1, o2, oo) in ((7, (128, -127, -128)), (64, (0, 3, 127)), (203, (-5, 9, 0))):
        a = rng.integers(-128, 128, size, dtype=np.int8)
        b = rng.integers(-128, 128, size, dtype=np.int8)
        params = dict(input1_offset=o1, input2_offset=o2, output_offset=oo, out_mult=int(rng.integers(1 << 30, 1 << 31)),
                      out_shift=-8, act_min=-100, act_max=120)
        cases.append(kernels.case("arm_elementwise_mul_s8", "mul", [a, b], params))
    run_ = kernels.run(cases)
    assert run_.statuses == [0] * len(cases)
    for case, out in zip(cases, run_.outputs):
        assert np.array_equal(out, case.expected), case.name
    assert any((case.expected == 120).any() or (case.expected == -100).any() for case in cases)  # clamps hit


@pytest.mark.qemu
def test_mul_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path, capsys):
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main

    graph = mul_graph(np.random.default_rng(3), activation="relu6")
    out = tmp_path / "build"
    report = build_graph(graph, "mps2-an386", out).report
    assert [layer["kernel"] for layer in report["layers"]][-1] == "ed_elementwise_mul_s8"
    assert "return ed_elementwise_mul_s8(" in (out / "src" / "model.c").read_text()
    np.save(tmp_path / "x.npy", np.random.default_rng(4).integers(-128, 128, (6, 4, 5, 8)).astype(np.int8))
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    assert json.loads((out / "check.json").read_text())["mismatches"] == 0
