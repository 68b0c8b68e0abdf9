"""SUM and REDUCE_MAX (ed_mean_s8 with SUM's multiplier, ed_reduce_max_s8), RESIZE_NEAREST_NEIGHBOR
(ed_resize_nearest_s8), TRANSPOSE_CONV (ed_transpose_conv_s8), BATCH_MATMUL (arm_batch_matmul_s8)
and FULLY_CONNECTED with keep_num_dims: bit-exact with ai-edge-litert (SUM under the interpreter's
``litert`` policy, which reproduces what its reference kernel was measured to do), through the
.tflite writer and reader, the kernels on both host paths, and a model on QEMU."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.interp.interpreter import run_graph
from edge_deploy.ir import QuantParams
from edge_deploy.kernels import get_kernel
from edge_deploy.ops import GraphBuilder
from edge_deploy.ops.sum import sum_s8
from edge_deploy.testing.random_layers import random_case
from kernel_runner import HostKernels
from op_checks import mismatches_with_litert, q, qemu_check, random_q, round_trip_equal

KERNELS = ("ed_mean_s8", "ed_reduce_max_s8", "ed_resize_nearest_s8", "ed_transpose_conv_s8", "arm_batch_matmul_s8")


def compute_graph(rng, axes=(1, 2), size=(10, 12), corners=(False, False), adj=(False, True)):
    b = GraphBuilder("compute", "int8")
    qx = random_q(rng)
    x = b.input("x", (1, 5, 6, 8), qx)
    s = b.sum(x, "sum", axis=axes, keep_dims=True, quant=random_q(rng, 0.05, 2.0))
    m = b.reduce_max(x, "max", axis=axes, quant=qx)
    r = b.resize_nearest_neighbor(x, "resized", size, align_corners=corners[0], half_pixel_centers=corners[1],
                                  quant=qx)
    ws = rng.uniform(0.002, 0.02, 4).astype(np.float32)
    t = b.transpose_conv(x, "upsampled", rng.integers(-127, 128, (4, 3, 3, 8)).astype(np.int8),
                         rng.integers(-900, 900, 4).astype(np.int32), out_shape=(1, 10, 12, 4), stride=(2, 2),
                         padding="same", activation="relu", quant=random_q(rng, 0.05, 0.3),
                         w_quant=QuantParams(ws, np.zeros(4), 0),
                         b_quant=QuantParams(ws * np.float32(qx.scale[0]), np.zeros(4), 0))
    rows = b.reshape(x, "rows", (1, 30, 8), quant=qx)
    keys = b.fully_connected(rows, "keys", rng.integers(-127, 128, (8, 8)).astype(np.int8), None,
                             quant=random_q(rng), w_quant=QuantParams(ws[:1], [0], 0))
    b.graph.ops[-1].attrs["keep_num_dims"] = True
    b.graph.tensors[keys].shape = (1, 30, 8)
    lhs = b.transpose(rows, "lhs_t", (0, 2, 1), quant=qx) if adj[0] else rows
    rhs = keys if adj[1] else b.transpose(keys, "keys_t", (0, 2, 1), quant=b.graph.tensors[keys].quant)
    scores = b.batch_matmul(lhs, rhs, "scores", adj_x=adj[0], adj_y=adj[1], quant=random_q(rng, 0.1, 1.0))
    return b.finish([s, m, r, t, scores])


def test_compute_ops_match_litert_and_round_trip():
    for seed, (axes, size, corners, adj) in enumerate([((1, 2), (10, 12), (False, False), (False, True)),
                                                       ((3,), (7, 4), (True, False), (False, False)),
                                                       ((2,), (3, 9), (False, True), (True, True)),
                                                       ((1, 2, 3), (5, 6), (False, False), (True, False))]):
        rng = np.random.default_rng(seed)
        graph = compute_graph(rng, axes, size, corners, adj)
        batch = rng.integers(-128, 128, (4, 5, 6, 8)).astype(np.int8)
        assert set(mismatches_with_litert(graph, batch).values()) == {0}, seed
    back = round_trip_equal(graph, batch)
    assert {op.kind for op in back.ops} >= {"sum", "reduce_max", "resize_nearest_neighbor", "transpose_conv",
                                             "batch_matmul"}
    assert next(op for op in back.ops if op.kind == "fully_connected").attrs["keep_num_dims"]


def test_sum_follows_tflm_by_default_and_litert_under_its_policy():
    """TFLM's SUM saturates the requantized sum; ai-edge-litert's reference reads the bytes as
    uint8 (measured): -6 summed alone, scale halved, is -3 for TFLM and 125 for litert."""
    x = np.array([[-6, 0, 0, 0], [100, 100, 0, 0]], dtype=np.int8)
    params = dict(in_shape=(1, 4), axis=(1,), input_offset=0, output_offset=0, out_mult=1 << 30, out_shift=0)
    assert sum_s8(x, **params).reshape(-1).tolist() == [-3, 100]
    assert sum_s8(x, **params, rounding="litert").reshape(-1).tolist() == [125, 100]


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_compute_kernels_on_the_host(path):
    rng = np.random.default_rng(4)
    cases = [random_case(rng, kernel, layer, name=f"{kernel}-{i}")
             for kernel in KERNELS for i, layer in enumerate(get_kernel(kernel).calibration)]
    cases.append(random_case(rng, "arm_batch_matmul_s8", {"in": [(2, 3, 5, 6), (1, 3, 6, 4)]}, name="broadcast"))
    run = HostKernels(path).run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        assert np.array_equal(out, case.expected), case.name


@pytest.mark.qemu
def test_compute_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path):
    rng = np.random.default_rng(7)
    graph = compute_graph(rng, adj=(True, False))
    sizes = sum(int(np.prod(graph.tensor(n).shape)) for n in graph.outputs)
    b = GraphBuilder("joined", "int8")  # one output for the firmware: every result, flattened and joined
    b.graph = graph
    flat = [b.reshape(n, f"{n}_flat", (1, -1), quant=graph.tensor(n).quant) for n in list(graph.outputs)]
    joined = [b.quantize(n, f"{n}_q", quant=q(0.1, 0)) for n in flat]
    graph = b.finish([b.concatenation(joined, "all", axis=1, quant=q(0.1, 0))])
    report = qemu_check(graph, rng.integers(-128, 128, (3, 5, 6, 8)).astype(np.int8), tmp_path / "build")
    assert set(KERNELS) <= {layer["kernel"] for layer in report["layers"]}
    assert run_graph(graph, np.zeros((1, 5, 6, 8), np.int8))["all"].shape == (1, sizes)
