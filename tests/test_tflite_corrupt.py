"""Truncated, corrupted and unsupported .tflite files give an EdgeDeployError, never a crash."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlperf_data import MISSING, MLPERF

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import Graph, QuantParams
from edge_deploy.tflite import export_tflite, import_tflite

from test_tflite_roundtrip import every_op_graph

MODEL = export_tflite(every_op_graph())


def import_or_error(data: bytes):
    try:
        return import_tflite(data)
    except EdgeDeployError as exc:
        assert exc.message  # a message naming the problem
        return exc


def test_every_truncation_is_an_error():
    for length in range(0, len(MODEL), 7):
        result = import_or_error(MODEL[:length])
        assert isinstance(result, EdgeDeployError), f"a {length}-byte prefix was accepted"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(MODEL) - 1), st.integers(0, 255)), min_size=1, max_size=12))
def test_randomly_mutated_bytes_never_crash(mutations):
    data = bytearray(MODEL)
    for offset, value in mutations:
        data[offset] = value
    result = import_or_error(bytes(data))
    assert isinstance(result, (Graph, EdgeDeployError))


def test_random_garbage_is_not_a_model():
    rng = np.random.default_rng(0)
    for size in (0, 3, 8, 64, 4096):
        assert isinstance(import_or_error(rng.integers(0, 256, size, dtype=np.uint8).tobytes()), EdgeDeployError)


def test_not_a_tflite_file_says_so():
    with pytest.raises(EdgeDeployError, match="TFL3"):
        import_tflite(b"\x10\x00\x00\x00NOPE" + bytes(64))


def _export_unvalidated(graph, monkeypatch, **opcodes):
    """Write a graph the writer would refuse (our writer only makes valid int8 models)."""
    import edge_deploy.tflite.writer as writer
    from edge_deploy.ops import get_op
    from edge_deploy.ops.base import TfliteCode

    for kind, code in opcodes.items():  # write this op under another builtin code
        monkeypatch.setattr(get_op(kind), "tflite_code", lambda op, code=code: TfliteCode(code, f"code {code}", 1))
    return writer.export_tflite(graph, check=False)


def test_float_model_is_rejected_by_name(monkeypatch):
    graph = every_op_graph()
    graph.tensors["x"].dtype = "float32"
    graph.tensors["x"].quant = None
    with pytest.raises(EdgeDeployError, match="'x' is float"):
        import_tflite(_export_unvalidated(graph, monkeypatch))


def test_unsupported_op_is_named(monkeypatch):
    data = _export_unvalidated(every_op_graph(), monkeypatch, avg_pool2d=47)  # 47 is EXP
    with pytest.raises(EdgeDeployError, match="EXP"):
        import_tflite(data)


def test_dynamic_shape_is_rejected_but_a_dynamic_batch_reads_as_one(monkeypatch):
    graph = every_op_graph()
    graph.tensors["x"].shape = (1, 6, -1, 3)
    with pytest.raises(EdgeDeployError, match=r"dynamic shape \(1, 6, -1, 3\)"):
        import_tflite(_export_unvalidated(graph, monkeypatch))
    graph = every_op_graph()
    graph.tensors["x"].shape = (-1, 6, 7, 3)  # what TensorFlow's converter writes for the batch
    assert import_tflite(_export_unvalidated(graph, monkeypatch)).tensor("x").shape == (1, 6, 7, 3)




@pytest.mark.skipif(not MLPERF.is_dir(), reason=MISSING)
def test_mlperf_tiny_models_load_as_converted():
    """TensorFlow's converter wrote batch -1 into their shape_signature; the shapes are static."""
    from edge_deploy.tflite import load_tflite

    shapes = {p.stem: load_tflite(p).tensor(load_tflite(p).inputs[0]).shape for p in sorted(MLPERF.glob("*.tflite"))}
    assert shapes == {"ad01_int8": (1, 640), "kws_ref_model": (1, 49, 10, 1),
                      "pretrainedResnet_quant": (1, 32, 32, 3), "vww_96_int8": (1, 96, 96, 3)}


# ---- issue 17: files that loaded and then crashed a later stage are refused at load -------------

def _refusal(graph, monkeypatch) -> str:
    with pytest.raises(EdgeDeployError) as caught:
        import_tflite(_export_unvalidated(graph, monkeypatch))
    return caught.value.message


@pytest.mark.parametrize("scale", [2.3e-43, 0.0, -0.5, float("inf"), float("nan")])
def test_an_activation_scale_that_is_not_a_normal_positive_float_is_refused_naming_the_tensor(monkeypatch, scale):
    graph = every_op_graph()
    graph.tensors["conv"].quant = QuantParams([scale], [-128])  # the ReLU6 conv's output
    assert re.search(r"'conv' has (an invalid quantization )?scale", _refusal(graph, monkeypatch))


def test_an_activation_zero_point_outside_int8_is_refused(monkeypatch):
    graph = every_op_graph()
    graph.tensors["sum"].quant = QuantParams([0.1], [200])
    assert "'sum' has zero point 200" in _refusal(graph, monkeypatch)


@pytest.mark.parametrize("beta", [-1.0, 0.0, float("nan"), float("inf")])
def test_a_softmax_beta_that_is_not_finite_and_positive_is_refused(monkeypatch, beta):
    graph = every_op_graph()
    graph.ops[-1].attrs["beta"] = beta
    assert "beta must be a finite number > 0" in _refusal(graph, monkeypatch)


def test_a_softmax_input_scale_too_small_for_int8_softmax_is_refused(monkeypatch):
    graph = every_op_graph()
    graph.tensors["fc"].quant = QuantParams([1e-12], [0])  # beta x scale x 2**26 below 1: TFLite aborts
    assert "below the 2**-26" in _refusal(graph, monkeypatch)


def test_a_constant_graph_output_is_refused(monkeypatch):
    graph = every_op_graph()
    graph.outputs = [graph.ops[0].inputs[1]]  # the conv's weights
    assert "graph output 'conv/weights' is a constant tensor" in _refusal(graph, monkeypatch)


def test_an_empty_graph_is_refused(monkeypatch):
    graph = every_op_graph()
    graph.ops, graph.inputs, graph.outputs = [], [], []
    assert "0 ops, 0 inputs and 0 outputs" in _refusal(graph, monkeypatch)


def test_an_op_reading_a_constant_as_its_data_input_is_refused(monkeypatch):
    """A FULLY_CONNECTED reading its own weights as its input, which then matches its shape."""
    graph = every_op_graph()
    fc = next(op for op in graph.ops if op.kind == "fully_connected")
    weights = graph.tensors[fc.inputs[1]]
    graph.tensors["flat"].shape = weights.shape
    graph.tensors["flat"].data = np.zeros(weights.shape, np.int8)
    fc.inputs[0] = "flat"
    graph.ops = [op for op in graph.ops if op.outputs[0] != "flat"]
    message = _refusal(graph, monkeypatch)
    assert "reads the constant tensor 'flat' as its data input" in message


def test_a_large_float_option_survives_the_writer():
    """A builtin float option is always written (a default of value + 1 equals the value at 1e30)."""
    graph = every_op_graph()
    graph.ops[-1].attrs["beta"] = 1e30
    assert import_tflite(export_tflite(graph)).ops[-1].attrs["beta"] == pytest.approx(1e30)
