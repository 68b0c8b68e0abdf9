"""IR -> .tflite -> IR round trips are lossless, and TFLM-accepted quirks are accepted."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder
from edge_deploy.tflite import export_tflite, import_tflite, load_tflite


def q(scale, zp):
    return QuantParams([scale], [zp])


def every_op_graph():
    """One graph holding every op kind, int8, with per-channel and per-tensor weights."""
    rng = np.random.default_rng(3)
    b = GraphBuilder("every_op", "int8")
    x = b.input("x", (1, 6, 7, 3), q(0.05, -3))
    ws = np.float32(2.0 ** rng.uniform(-9, -6, 4))
    c = b.conv2d(x, "conv", rng.integers(-127, 128, (4, 3, 2, 3)), rng.integers(-99, 99, 4), stride=(2, 1),
                 padding="same", dilation=(1, 2), activation="relu6", quant=q(0.04, -128),
                 w_quant=QuantParams(ws, np.zeros(4), 0), b_quant=QuantParams(ws * np.float32(0.05), np.zeros(4), 0))
    ds = np.float32(2.0 ** rng.uniform(-9, -6, 8))
    d = b.depthwise_conv2d(c, "dw", rng.integers(-127, 128, (1, 3, 3, 8)), rng.integers(-99, 99, 8),
                           padding="same", quant=q(0.06, 1), w_quant=QuantParams(ds, np.zeros(8), 3),
                           b_quant=QuantParams(ds * np.float32(0.04), np.zeros(8), 0))
    p = b.pad(d, "pad", [(0, 0), (1, 0), (0, 2), (0, 0)], quant=q(0.06, 1))
    p2 = b.pad(p, "pad2", [(0, 0), (0, 1), (1, 0), (0, 0)], pad_value=-7, quant=q(0.06, 1))
    m = b.max_pool2d(p2, "max", filter_hw=(2, 2), stride=(2, 2), quant=q(0.06, 1))
    a = b.avg_pool2d(m, "avg", filter_hw=(2, 2), stride=(1, 1), padding="same", quant=q(0.06, 1))
    s = b.add(m, a, "sum", activation="relu", quant=q(0.1, -128))
    g = b.mean(s, "gap", keep_dims=True, quant=q(0.05, -100))
    f = b.reshape(g, "flat", (1, -1), quant=q(0.05, -100))
    fs = np.float32(2.0 ** rng.uniform(-9, -6, 1))
    o = b.fully_connected(f, "fc", rng.integers(-127, 128, (5, 8)), rng.integers(-99, 99, 5), quant=q(0.2, 0),
                          w_quant=QuantParams(fs, [0], 0), b_quant=QuantParams(fs * np.float32(0.05), [0], 0))
    return b.finish([b.softmax(o, "prob", beta=0.5, quant=q(1 / 256, -128))])


def assert_graphs_equal(a, b):
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)
    assert list(a.tensors) == list(b.tensors)
    for name, t in a.tensors.items():
        u = b.tensors[name]
        assert (t.shape, t.dtype, t.quant) == (u.shape, u.dtype, u.quant), name
        assert (t.data is None) == (u.data is None), name
        if t.data is not None:
            assert t.data.dtype == u.data.dtype and np.array_equal(t.data, u.data), name
    assert [(o.kind, o.name, o.inputs, o.outputs) for o in a.ops] == [(o.kind, o.name, o.inputs, o.outputs) for o in b.ops]
    for x, y in zip(a.ops, b.ops):
        assert {k: v for k, v in x.attrs.items()} == {k: v for k, v in y.attrs.items()}, x.name


def test_round_trip_is_lossless_and_deterministic():
    graph = every_op_graph()
    data = export_tflite(graph)
    back = import_tflite(data)
    assert_graphs_equal(graph, back)
    assert export_tflite(back) == data  # byte-identical on re-export


def test_load_tflite_reads_a_written_file(tmp_path):
    path = tmp_path / "m.tflite"
    export_tflite(every_op_graph(), path)
    assert_graphs_equal(every_op_graph(), load_tflite(path))


def test_rank1_bias_with_quantized_dimension_3_is_accepted():
    """TFLM ignores a bias's quantized_dimension; some real models carry 3 on a rank-1 bias."""
    graph = every_op_graph()
    graph.tensors["dw/bias"].quant.axis = 3
    back = import_tflite(export_tflite(graph))
    assert back.tensors["dw/bias"].quant.axis == 3
    assert back.tensors["dw/bias"].data.shape == (8,)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(EdgeDeployError, match="nope.tflite"):
        load_tflite(tmp_path / "nope.tflite")
