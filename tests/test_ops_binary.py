"""The element-wise ops of two inputs with broadcasting: SUB (arm_elementwise_add_s8 with input
2's multiplier negated), MUL and ADD with broadcasting (a squeeze-excite gate; once per block),
MAXIMUM / MINIMUM (arm_maximum_s8 / arm_minimum_s8), PRELU (ed_prelu_s8), and any of them with a
single constant value as a 256-entry table (ed_lut_s8): bit-exact with ai-edge-litert, through
the .tflite writer and reader, the kernels on both host paths, and a model on QEMU."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.kernels import get_kernel
from edge_deploy.kernels._broadcast import broadcast_plan
from edge_deploy.ops import GraphBuilder
from edge_deploy.testing.random_layers import random_case
from kernel_runner import HostKernels
from op_checks import mismatches_with_litert, q, qemu_check, random_q, round_trip_equal


def binary_graph(rng):
    """One input; every binary op, broadcasting and constant operands included."""
    b = GraphBuilder("binary", "int8")
    x = b.input("x", (1, 4, 5, 8), random_q(rng))
    r = b.leaky_relu(x, "leaky", alpha=0.25, quant=random_q(rng))
    gate = b.mean(x, "gate", axis=(1, 2), keep_dims=True, quant=random_q(rng))  # (1, 1, 1, 8)
    s = b.sub(x, r, "diff", quant=random_q(rng, 0.01, 0.3))
    m = b.mul(s, gate, "gated", quant=random_q(rng), activation="relu6")  # (1, 4, 5, 8) x (1, 1, 1, 8)
    three = b.constant("three", np.array(60, dtype=np.int8), "int8", q(0.05, 0))
    a = b.add(m, three, "plus3", quant=random_q(rng))  # a table: one constant value
    mx = b.maximum(a, gate, "max", quant=b.graph.tensors[a].quant)
    row = b.constant("row", rng.integers(-128, 128, 8).astype(np.int8), "int8", b.graph.tensors[a].quant)
    mn = b.minimum(mx, row, "min", quant=b.graph.tensors[a].quant)
    p = b.prelu(mn, "prelu", rng.integers(-128, 128, (1, 1, 8)).astype(np.int8), alpha_quant=q(0.004, 3),
                quant=random_q(rng))
    bias = b.constant("bias", rng.integers(-128, 128, (1, 1, 5, 1)).astype(np.int8), "int8", random_q(rng))
    return b.finish([b.sub(bias, p, "flipped", quant=random_q(rng, 0.01, 0.3), activation="relu")])


def test_binary_ops_match_litert_and_round_trip():
    for seed in range(6):
        rng = np.random.default_rng(seed)
        graph = binary_graph(rng)
        batch = rng.integers(-128, 128, (5, 4, 5, 8)).astype(np.int8)
        assert set(mismatches_with_litert(graph, batch).values()) == {0}, seed
    back = round_trip_equal(graph, batch)
    assert [op.kind for op in back.ops] == [op.kind for op in graph.ops]


def test_broadcast_plan_cuts_the_output_into_dense_blocks():
    gate = broadcast_plan((1, 6, 7, 16), (1, 1, 1, 16), (1, 6, 7, 16))
    assert (gate.block, gate.loops) == (16, ((42, 16, 0, 16),))
    assert broadcast_plan((2, 3), (2, 3), (2, 3)).loops == ()
    row = broadcast_plan((1, 4, 1, 8), (1, 4, 5, 8), (1, 4, 5, 8))
    assert row.block == 8 and row.loops == ((4, 8, 40, 40), (5, 0, 8, 8)) and row.calls == 20


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_binary_kernels_on_the_host(path):
    rng = np.random.default_rng(9)
    kernels = ("arm_elementwise_add_s8", "arm_elementwise_mul_s8", "arm_maximum_s8", "arm_minimum_s8", "ed_prelu_s8")
    cases = [random_case(rng, kernel, layer, name=f"{kernel}-{i}")
             for kernel in kernels for i, layer in enumerate(get_kernel(kernel).calibration)]
    cases.append(random_case(rng, "arm_elementwise_add_s8", {"op": "sub", "in": [(1, 3, 5, 7), (1, 3, 1, 7)]},
                             name="sub"))
    cases += [random_case(rng, "ed_lut_s8", {"op": op, "in": [(1, 37)], "scalar": True}, name=f"{op}-table")
              for op in ("mul", "sub", "maximum")]
    run = HostKernels(path).run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        assert np.array_equal(out, case.expected), case.name


@pytest.mark.qemu
def test_binary_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path):
    rng = np.random.default_rng(1)
    graph = binary_graph(rng)
    report = qemu_check(graph, rng.integers(-128, 128, (4, 4, 5, 8)).astype(np.int8), tmp_path / "build")
    kernels = [layer["kernel"] for layer in report["layers"]]
    assert {"ed_elementwise_add_linear_s8", "ed_elementwise_mul_s8", "ed_lut_s8", "arm_maximum_s8", "arm_minimum_s8",
            "ed_prelu_s8"} <= set(kernels)
    model_c = (tmp_path / "build" / "src" / "model.c").read_text()
    assert "for (int32_t i0 = 0; i0 < 20; i0++)" in model_c  # the gate: 20 calls of 8 elements
