"""The data-movement ops: TRANSPOSE (arm_transpose_s8), CONCATENATION and PACK
(arm_concatenation_s8_y), SLICE with STRIDED_SLICE, SPLIT, SPLIT_V and UNPACK read into it
(ed_strided_slice_s8), SQUEEZE and EXPAND_DIMS (views): bit-exact with ai-edge-litert, through
the .tflite writer and reader, the kernels on both host paths, and a model on QEMU."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.kernels import get_kernel
from edge_deploy.ops import GraphBuilder
from edge_deploy.testing.random_layers import random_case
from kernel_runner import HostKernels
from op_checks import mismatches_with_litert, q, qemu_check, round_trip_equal

QUANT = q(0.05, 3)


def movement_graph():
    """x (1, 3, 6, 8) NCHW-like -> every data-movement op, joined at the end."""
    b = GraphBuilder("movement", "int8")
    x = b.input("x", (1, 3, 6, 8), QUANT)
    t = b.transpose(x, "nhwc", (0, 2, 3, 1), quant=QUANT)  # (1, 6, 8, 3)
    t2 = b.transpose(b.reshape(t, "rows", (6, 24), quant=QUANT), "cols", (1, 0), quant=QUANT)  # (24, 6)
    s1 = b.slice(t, "strided", (0, 1, 0, 0), (1, 5, 8, 3), (1, 2, 3, 1), quant=QUANT)  # (1, 2, 3, 3)
    s2 = b.slice(t, "channel", (0, 0, 0, 1), (1, 6, 8, 2), shrink=(3,), quant=QUANT)  # (1, 6, 8)
    c = b.concatenation([t, t, t], "joined", axis=3, quant=QUANT)  # (1, 6, 8, 9)
    p = b.concatenation([s2, s2], "packed", axis=1, new_axis=True, quant=QUANT)  # (1, 2, 6, 8)
    flat = [b.reshape(n, f"{n}_flat", (1, -1), quant=QUANT) for n in (t2, s1, c, p)]
    return b.finish([b.concatenation(flat, "all", axis=1, quant=QUANT)])


def test_movement_ops_match_litert_and_round_trip():
    graph = movement_graph()
    batch = np.random.default_rng(0).integers(-128, 128, (5, 3, 6, 8)).astype(np.int8)
    assert set(mismatches_with_litert(graph, batch).values()) == {0}
    back = round_trip_equal(graph, batch)
    assert {op.kind for op in back.ops} == {"transpose", "reshape", "slice", "concatenation"}


def test_concatenation_refuses_mixed_quantization():
    b = GraphBuilder("mixed", "int8")
    x, y = b.input("x", (1, 4), QUANT), b.input("y", (1, 4), q(0.1, 0))
    with pytest.raises(EdgeDeployError, match="must share one quantization"):
        b.finish([b.concatenation([x, y], "c", axis=1, quant=QUANT)])


def test_slice_refuses_a_window_outside_the_input():
    b = GraphBuilder("bad", "int8")
    x = b.input("x", (1, 4, 4), QUANT)
    with pytest.raises(EdgeDeployError, match="does not fit"):
        b.slice(x, "s", (0, 2, 0), (1, 6, 4), quant=QUANT)


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_movement_kernels_on_the_host(path):
    rng = np.random.default_rng(5)
    extra = {"arm_transpose_s8": [{"in": [(7,)], "attrs": {"perm": (0,)}},
                                  {"in": [(2, 3, 4, 5)], "attrs": {"perm": (3, 1, 0, 2)}}],
             "ed_strided_slice_s8": [{"in": [(2, 5, 5, 3)], "attrs": {"begin": (1, 0, 4, 2), "end": (2, 5, 5, 3),
                                                                      "strides": (1, 4, 1, 1)}}],
             "arm_concatenation_s8_y": [{"in": [(3,), (1,)], "attrs": {"axis": 0}, "shared_quant": True}]}
    cases = [random_case(rng, kernel, layer, name=f"{kernel}-{i}")
             for kernel in ("arm_transpose_s8", "arm_concatenation_s8_y", "ed_strided_slice_s8")
             for i, layer in enumerate(list(get_kernel(kernel).calibration) + extra[kernel])]
    run = HostKernels(path).run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        assert np.array_equal(out, case.expected), case.name


@pytest.mark.qemu
def test_movement_model_runs_bit_exact_on_qemu(qemu_arm, tmp_path):
    batch = np.random.default_rng(2).integers(-128, 128, (4, 3, 6, 8)).astype(np.int8)
    report = qemu_check(movement_graph(), batch, tmp_path / "build")
    kernels = {layer["kernel"] for layer in report["layers"]}
    assert {"arm_transpose_s8", "arm_concatenation_s8_y", "ed_strided_slice_s8"} <= kernels


def test_a_transpose_of_size_one_axes_is_a_view():
    from edge_deploy.codegen.layers import graph_layers

    b = GraphBuilder("one_channel", "int8")
    x = b.input("x", (1, 1, 6, 8), QUANT)  # PyTorch NCHW with one channel
    t = b.transpose(x, "nhwc", (0, 2, 3, 1), quant=QUANT)  # (1, 6, 8, 1): the same bytes
    u = b.transpose(t, "swapped", (0, 2, 1, 3), quant=QUANT)  # (1, 8, 6, 1): bytes move
    layers = graph_layers(b.finish([u]))
    assert [layer.is_view for layer in layers] == [True, False]
    assert layers[1].kernel == "arm_transpose_s8"
