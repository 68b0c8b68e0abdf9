"""Malformed or unsupported models using issue 12's ops give one EdgeDeployError naming the op,
tensor or field, never another exception: randomly mutated TensorFlow-converted files (read, run
and given kernels), and each refusal the op modules make."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_deploy.codegen.layers import graph_layers
from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run_graph
from edge_deploy.ops import GraphBuilder
from edge_deploy.tflite import export_tflite, import_tflite
from op_checks import int8_batch, q

DATA = Path(__file__).parent / "data" / "tflite"
MODELS = {name: (DATA / f"{name}.tflite").read_bytes()
          for name in ("data_movement", "activations", "float_io", "transpose_conv", "batch_matmul")}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MODELS)), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                                 min_size=1, max_size=8), st.integers(0, 2**31))
def test_mutated_models_are_read_run_and_compiled_or_refused(name, mutations, seed):
    data = bytearray(MODELS[name])
    for where, value in mutations:
        data[int(where * len(data))] = value
    try:
        graph = import_tflite(bytes(data))
        if len(graph.inputs) == 1:
            run_graph(graph, int8_batch(np.random.default_rng(seed), graph, 2))
        graph_layers(graph)
    except EdgeDeployError as exc:
        assert exc.message and "\n" not in exc.message.split(":")[0]


def _graph(build):
    """Build, then choose kernels (where the kernel parameters are computed)."""
    b = GraphBuilder("bad", "int8")
    x = b.input("x", (1, 4, 4, 8), q(0.05, 0))
    graph_layers(build(b, x))


@pytest.mark.parametrize("build,match", [
    (lambda b, x: b.finish([b.concatenation([x, b.input("y", (1, 4, 4, 8), q(0.1, 0))], "c", axis=3,
                                            quant=q(0.05, 0))]), "must share one quantization"),
    (lambda b, x: b.finish([b.hard_swish(x, "h", quant=q(0.00001, 0))]), "output scale .* too small"),
    (lambda b, x: b.finish([b.logistic(x, "s", quant=q(0.1, 0))]), "scale 1/256 and zero point -128"),
    (lambda b, x: b.finish([b.transpose(x, "t", (0, 1, 1, 3), quant=q(0.05, 0))]), "not a permutation"),
    (lambda b, x: b.finish([b.slice(x, "s", (0, 0, 0, 0), (1, 4, 4, 8), (1, 0, 1, 1), quant=q(0.05, 0))]),
     "does not fit"),
    (lambda b, x: b.finish([b.resize_nearest_neighbor(x, "r", (8, 8), align_corners=True, half_pixel_centers=True,
                                                      quant=q(0.05, 0))]), "cannot both be set"),
    (lambda b, x: b.finish([b.batch_matmul(x, b.input("y", (1, 4, 7, 8), q(0.1, 0)), "m", quant=q(0.1, 0))]),
     "cannot multiply"),
    (lambda b, x: b.finish([b.leaky_relu(x, "l", alpha=-0.5, quant=q(0.05, 0))]), "alpha"),
])
def test_op_refusals_name_the_op(build, match):
    with pytest.raises(EdgeDeployError, match=match) as info:
        _graph(build)
    assert "op '" in info.value.message


def test_a_transpose_of_five_axes_has_no_kernel():
    b = GraphBuilder("five", "int8")
    x = b.input("x", (1, 2, 3, 4, 5), q(0.05, 0))
    graph = b.finish([b.transpose(x, "t", (0, 4, 3, 2, 1), quant=q(0.05, 0))])
    with pytest.raises(EdgeDeployError, match="arm_transpose_s8 takes up to 4"):
        graph_layers(graph)


def test_strided_slice_masks_edge_deploy_does_not_read_are_named(monkeypatch):
    b = GraphBuilder("masks", "int8")
    x = b.input("x", (1, 4, 4, 8), q(0.05, 0))
    graph = b.finish([b.slice(x, "s", (0, 1, 0, 0), (1, 3, 4, 8), quant=q(0.05, 0))])
    from edge_deploy.ops.slice import ELLIPSIS_MASK, OP

    original = OP.to_tflite

    def with_ellipsis(graph, op, writer):
        return writer.table(32, [(ELLIPSIS_MASK, "i32", 1)], slots=6)

    monkeypatch.setattr(OP, "to_tflite", with_ellipsis)
    data = export_tflite(graph)
    monkeypatch.setattr(OP, "to_tflite", original)
    with pytest.raises(EdgeDeployError, match=r"operator 0 \(STRIDED_SLICE\) uses an ellipsis or new-axis mask"):
        import_tflite(data)
