"""The element-wise ops of one input (RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH) and the
model boundary (QUANTIZE, DEQUANTIZE): bit-exact with ai-edge-litert's reference kernels on every
int8 input, through the .tflite writer and reader, the kernels (ed_lut_s8, ed_quantize_f32_s8,
ed_dequantize_s8_f32) on both host paths, and a float-in, float-out model on QEMU."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.kernels import get_kernel
from edge_deploy.ops import GraphBuilder
from edge_deploy.testing.random_layers import random_case
from kernel_runner import HostKernels
from op_checks import int8_batch, mismatches_with_litert, q, qemu_check, random_q, round_trip_equal

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
FIXED_OUTPUT = {"logistic": (1 / 256, -128), "tanh": (1 / 128, 0)}


def unary_graph(rng, kind: str, **attrs):
    b = GraphBuilder(kind, "int8")
    x = b.input("x", (1, 256), random_q(rng))
    out_q = q(*FIXED_OUTPUT[kind]) if kind in FIXED_OUTPUT else random_q(rng)
    return b.finish([getattr(b, kind)(x, "y", quant=out_q, **attrs)])


@pytest.mark.parametrize("kind", ["relu", "relu6", "leaky_relu", "logistic", "tanh", "hard_swish"])
def test_unary_op_matches_litert_on_every_input(kind):
    rng = np.random.default_rng(sum(map(ord, kind)))
    for _ in range(12):
        attrs = {"alpha": float(rng.uniform(0.0, 1.0))} if kind == "leaky_relu" else {}
        graph = unary_graph(rng, kind, **attrs)
        assert mismatches_with_litert(graph, EVERY_INT8, ["y"]) == {"y": 0}
    back = round_trip_equal(graph, EVERY_INT8)
    assert back.ops[0].kind == kind and back.ops[0].attrs == graph.ops[0].attrs


@pytest.mark.parametrize("in_dtype,out_dtype", [("float32", "int8"), ("int8", "int8"),
                                                ("uint8", "int8"), ("int8", "uint8")])
def test_quantize_and_dequantize_match_litert(in_dtype, out_dtype):
    rng = np.random.default_rng(len(in_dtype) * 7 + len(out_dtype))
    for _ in range(6):
        b = GraphBuilder("boundary", "int8")
        zero_in = int(rng.integers(0, 256)) if in_dtype == "uint8" else int(rng.integers(-128, 128))
        x = b.input("x", (1, 300), None if in_dtype == "float32" else q(rng.uniform(0.005, 0.3), zero_in))
        b.graph.tensors["x"].dtype = in_dtype
        zero_out = int(rng.integers(0, 256)) if out_dtype == "uint8" else int(rng.integers(-128, 128))
        y = b.quantize(x, "y", quant=q(rng.uniform(0.005, 0.3), zero_out), dtype=out_dtype)
        graph = b.finish([y if out_dtype == "uint8" else b.dequantize(y, "z")])
        assert graph.is_quantized
        batch = int8_batch(rng, graph, 6)
        if in_dtype == "float32":  # exact halves of the output step, the rounding's edge
            batch[0, :60] = (np.arange(60) - 30).astype(np.float32) * np.float32(graph.tensor("y").scale) / 2
        assert set(mismatches_with_litert(graph, batch).values()) == {0}
    assert [op.kind for op in round_trip_equal(graph, batch).ops] == [op.kind for op in graph.ops]


def test_float_activations_inside_a_model_are_refused():
    """float32 only at the interface: an int8 -> float -> int8 chain inside is not quantized."""
    from edge_deploy.codegen.layers import graph_layers
    from edge_deploy.ir import Graph, Op, Tensor

    tensors = {"x": Tensor("x", (1, 8), "int8", q(0.1, 0)), "f": Tensor("f", (1, 8), "float32"),
               "y": Tensor("y", (1, 8), "int8", q(0.1, 0))}
    graph = Graph("float_inside", tensors, [Op("dequantize", "f", ["x"], ["f"]), Op("quantize", "y", ["f"], ["y"])],
                  ["x"], ["y"])
    assert not graph.is_quantized
    with pytest.raises(EdgeDeployError, match="not int8"):
        graph_layers(graph)


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_table_and_boundary_kernels_on_the_host(path):
    rng = np.random.default_rng(11)
    cases = [random_case(rng, kernel, layer, name=f"{kernel}-{i}")
             for kernel in ("ed_lut_s8", "ed_quantize_f32_s8", "ed_dequantize_s8_f32")
             for i, layer in enumerate(get_kernel(kernel).calibration)]
    cases.append(random_case(rng, "ed_lut_s8", {"op": "quantize", "in": [(1, 37)]}, name="requantize"))
    run = HostKernels(path).run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        assert out.dtype == case.expected.dtype and np.array_equal(out.view(np.uint8), case.expected.view(np.uint8)), \
            case.name


@pytest.mark.qemu
def test_float_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path):
    b = GraphBuilder("float_io", "int8")
    x = b.input("x", (1, 4, 5, 8), None)
    b.graph.tensors["x"].dtype = "float32"
    y = b.quantize(x, "xq", quant=q(0.05, 3))
    for kind, out_q in (("hard_swish", q(0.04, -100)), ("relu6", q(0.03, -128)), ("tanh", q(1 / 128, 0)),
                        ("relu", q(0.01, -128)), ("logistic", q(1 / 256, -128))):
        y = getattr(b, kind)(y, kind, quant=out_q)
    y = b.leaky_relu(y, "leaky", alpha=0.3, quant=q(0.005, -10))
    graph = b.finish([b.dequantize(y, "out")])
    batch = np.random.default_rng(4).normal(0, 3, (6, 4, 5, 8)).astype(np.float32)
    report = qemu_check(graph, batch, tmp_path / "build")
    assert [layer["kernel"] for layer in report["layers"]] == \
        ["ed_quantize_f32_s8"] + ["ed_lut_s8"] * 6 + ["ed_dequantize_s8_f32"]
    assert report["input"]["dtype"] == report["output"]["dtype"] == "float32"
    outputs = np.load(tmp_path / "build" / "y.npy")
    assert outputs.dtype == np.float32 and outputs.shape == (6, 4, 5, 8)


def test_pytorch_activations_lower_quantize_and_match_litert():
    """nn.Sigmoid, nn.Tanh, nn.Hardswish and a subtraction lower to their ops, the float graph
    is PyTorch's, and the quantized graph is ai-edge-litert's in every tensor."""
    torch = pytest.importorskip("torch")
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.lower import lower_module
    from edge_deploy.quantize.ptq import quantize_graph

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(3, 4, 3)
            self.sigmoid, self.tanh, self.hardswish = torch.nn.Sigmoid(), torch.nn.Tanh(), torch.nn.Hardswish()

        def forward(self, x):
            y = self.conv(x)
            return self.hardswish(self.tanh(y)) - self.sigmoid(y)

    torch.manual_seed(0)
    model = Head().eval()
    graph = lower_module(model, (1, 3, 16))
    assert [op.kind for op in graph.ops] == ["conv2d", "tanh", "hard_swish", "logistic", "sub"]
    x = torch.randn(4, 3, 16)
    ir_x = x.numpy().transpose(0, 2, 1)[:, None]
    assert np.allclose(run(graph, ir_x), model(x).detach().numpy().transpose(0, 2, 1)[:, None], atol=1e-5)
    quantized = quantize_graph(graph, ir_x)
    batch = np.random.default_rng(0).integers(-128, 128, (5, 1, 16, 3)).astype(np.int8)
    assert set(mismatches_with_litert(quantized, batch).values()) == {0}
