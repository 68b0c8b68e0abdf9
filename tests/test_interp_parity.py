"""The reference interpreter against the TFLite interpreter (reference kernels), op by op.

Each example builds a one-op int8 graph with random shapes and quantization, exports it with our
writer, runs it in ai-edge-litert and in our interpreter, and demands equality in every element.
Edge cases drawn on purpose: zero points at the int8 limits, very small and very large
multipliers, saturating biases, strides / paddings / dilations, odd channel counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_deploy.interp.interpreter import run_graph
from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder
from edge_deploy.tflite import export_tflite

pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
from edge_deploy.tflite.oracle import run_litert  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
zero_points = st.one_of(st.sampled_from([-128, 127, 0]), st.integers(-128, 127))
log_scales = st.floats(-9.0, 1.0).map(lambda e: float(np.float32(2.0**e * 1.37)))
activations = st.sampled_from(["none", "relu", "relu6"])


def q(scale: float, zp: int) -> QuantParams:
    return QuantParams([scale], [zp])


def check(graph, seed: int, n: int = 6) -> None:
    """Our interpreter (litert rounding policy) equals litert in every tensor, for n random inputs."""
    rng = np.random.default_rng(seed)
    x = graph.tensor(graph.inputs[0])
    batch = rng.integers(-128, 128, (n,) + x.shape[1:]).astype(np.int8)
    batch[0] = 127  # saturating corners
    batch[1] = -128
    names = graph.activations()
    ours = run_graph(graph, batch, rounding="litert", keep_all=True)
    theirs = run_litert(export_tflite(graph), batch, names)
    for name in names:
        assert ours[name].shape == theirs[name].shape, name
        mismatches = int(np.sum(ours[name] != theirs[name]))
        assert mismatches == 0, f"{name}: {mismatches} of {ours[name].size} elements differ"


@st.composite
def conv_case(draw, depthwise: bool):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 9))
    cin = draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["same", "valid"]))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if padding == "valid" and ((kh - 1) * dilation[0] + 1 > h or (kw - 1) * dilation[1] + 1 > w):
        padding = "same"
    mult = draw(st.integers(1, 3)) if depthwise else 1
    cout = cin * mult if depthwise else draw(st.integers(1, 7))
    in_scale, out_scale = draw(log_scales), draw(log_scales)
    w_scales = np.float32(2.0 ** rng.uniform(-12, -2, cout))
    per_channel = draw(st.booleans()) or depthwise
    if not per_channel:
        w_scales = w_scales[:1].repeat(cout)
    wshape = (1, kh, kw, cout) if depthwise else (cout, kh, kw, cin)
    weights = rng.integers(-127, 128, wshape)
    bias_range = draw(st.sampled_from([100, 10_000, 2**24]))  # the largest saturates
    bias = rng.integers(-bias_range, bias_range, cout)
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, h, w, cin), q(in_scale, draw(zero_points)))
    axis = 3 if depthwise else 0
    wq = QuantParams(w_scales if per_channel else w_scales[:1], np.zeros(cout if per_channel else 1), axis)
    bq = QuantParams(np.float32(in_scale) * w_scales, np.zeros(cout), 0)
    build = b.depthwise_conv2d if depthwise else b.conv2d
    y = build(x, "y", weights, bias, stride=stride, padding=padding, dilation=dilation,
              activation=draw(activations), quant=q(out_scale, draw(zero_points)), w_quant=wq, b_quant=bq)
    return b.finish([y])


@SETTINGS
@given(conv_case(depthwise=False), st.integers(0, 1000))
def test_conv2d_matches_tflite(graph, seed):
    check(graph, seed)


@SETTINGS
@given(conv_case(depthwise=True), st.integers(0, 1000))
def test_depthwise_conv2d_matches_tflite(graph, seed):
    check(graph, seed)


@st.composite
def fc_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    k, units = draw(st.integers(1, 40)), draw(st.integers(1, 9))
    in_scale, out_scale = draw(log_scales), draw(log_scales)
    per_channel = draw(st.booleans())
    w_scales = np.float32(2.0 ** rng.uniform(-12, -2, units if per_channel else 1))
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, k), q(in_scale, draw(zero_points)))
    bias = rng.integers(-draw(st.sampled_from([100, 2**24])), 2**20, units)
    y = b.fully_connected(
        x, "y", rng.integers(-127, 128, (units, k)), bias, activation=draw(activations),
        quant=q(out_scale, draw(zero_points)), w_quant=QuantParams(w_scales, np.zeros(w_scales.size), 0),
        b_quant=QuantParams(np.float32(in_scale) * w_scales, np.zeros(w_scales.size), 0),
    )
    return b.finish([y])


@SETTINGS
@given(fc_case(), st.integers(0, 1000))
def test_fully_connected_matches_tflite(graph, seed):
    check(graph, seed)


@st.composite
def pool_case(draw):
    h, w, c = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 5))
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = "same" if fh > h or fw > w else draw(st.sampled_from(["same", "valid"]))
    quant = q(draw(log_scales), draw(zero_points))
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, h, w, c), quant)
    y = getattr(b, draw(st.sampled_from(["max_pool2d", "avg_pool2d"])))(x, "y", filter_hw=(fh, fw),
               stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), padding=padding,
               activation=draw(activations), quant=quant)
    return b.finish([y])


@SETTINGS
@given(pool_case(), st.integers(0, 1000))
def test_pooling_matches_tflite(graph, seed):
    check(graph, seed)


@st.composite
def add_case(draw):
    h, w, c = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, h, w, c), q(draw(log_scales), draw(zero_points)))
    # The second operand is an int8 conv output so that the graph has one input; a 1x1 conv with
    # weight 1 and a chosen scale gives an arbitrary second scale and zero point.
    other_scale = draw(log_scales)
    ones = np.ones((c, 1, 1, c), dtype=np.int64) * np.eye(c, dtype=np.int64)[:, None, None, :] * 127
    w_scale = np.full(c, np.float32(1 / 127), dtype=np.float32)
    z = b.conv2d(x, "other", ones, rng.integers(-50, 50, c), quant=q(other_scale, draw(zero_points)),
                 w_quant=QuantParams(w_scale, np.zeros(c), 0),
                 b_quant=QuantParams(w_scale * np.float32(b.graph.tensor(x).scale), np.zeros(c), 0))
    y = b.add(x, z, "y", activation=draw(activations), quant=q(draw(log_scales), draw(zero_points)))
    return b.finish([y])


@SETTINGS
@given(add_case(), st.integers(0, 1000))
def test_add_matches_tflite(graph, seed):
    check(graph, seed)


@SETTINGS
@given(st.integers(1, 12), log_scales, zero_points, st.sampled_from([1.0, 0.5, 2.0]), st.integers(0, 1000))
def test_softmax_matches_tflite(depth, scale, zp, beta, seed):
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, depth), q(scale, zp))
    graph = b.finish([b.softmax(x, "y", beta=beta, quant=q(1 / 256, -128))])
    check(graph, seed, n=12)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3), st.lists(st.integers(0, 3), min_size=4, max_size=4),
       st.one_of(st.none(), st.integers(-128, 127)), log_scales, zero_points, st.integers(0, 1000))
def test_pad_matches_tflite(h, w, c, pads, value, scale, zp, seed):
    b = GraphBuilder("case", "int8")
    x = b.input("x", (1, h, w, c), q(scale, zp))
    paddings = [(0, 0), (pads[0], pads[1]), (pads[2], pads[3]), (0, 0)]
    graph = b.finish([b.pad(x, "y", paddings, pad_value=value, quant=q(scale, zp))])
    check(graph, seed)


def mean_case(rng: np.random.Generator, kind: str):
    """A random one-MEAN graph of one of the kinds older TFLite kernels treated apart: "hw" (rank 4,
    axes {1, 2}, keep_dims), "equal" (input and output quantization equal) or "other"."""
    rank = 4 if kind == "hw" else int(rng.integers(1, 5))
    shape = (1,) + tuple(int(v) for v in rng.integers(1, 10, rank - 1))
    if kind == "hw":
        axes, keep = [(1, 2), (2, 1), (-3, 2)][int(rng.integers(3))], True
    else:
        axes = tuple(int(a) for a in rng.choice(rank, int(rng.integers(1, rank + 1)), replace=False))
        axes = tuple(a - rank if rng.random() < 0.25 else a for a in axes)  # negative axes
        if rng.random() < 0.15:
            axes = axes + axes[:1]  # a duplicate, which TFLite ignores
        keep = bool(rng.random() < 0.5)
    zp = lambda: int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))  # noqa: E731
    scale = lambda: float(np.float32(2.0 ** rng.uniform(-12, 6)))  # noqa: E731
    in_q = q(scale(), zp())
    out_q = in_q if kind == "equal" else q(scale(), zp())
    b = GraphBuilder("case", "int8")
    x = b.input("x", shape, in_q)
    return b.finish([b.mean(x, "y", axis=axes, keep_dims=keep, quant=out_q)])


def test_mean_matches_tflite():
    """MEAN: 150 seeded random graphs (every kind, any rank, negative and duplicate axes, keep_dims
    both ways, zero points at the limits, multipliers from 2^-18 to 2^18), 0 differing elements."""
    rng = np.random.default_rng(2024)
    checked = {"hw": 0, "equal": 0, "other": 0}
    for i in range(150):
        kind = ("hw", "equal", "other")[i % 3]
        graph = mean_case(rng, kind)
        shape = graph.tensor(graph.inputs[0]).shape
        batch = rng.integers(-128, 128, (6,) + shape[1:]).astype(np.int8)
        batch[0], batch[1] = 127, -128
        ours = run_graph(graph, batch, rounding="litert")["y"]
        theirs = run_litert(export_tflite(graph), batch)["y"]
        assert ours.shape == theirs.shape
        mismatches = int(np.sum(ours != theirs))
        assert mismatches == 0, f"case {i} ({kind}, {graph.ops[0].attrs}): {mismatches} of {ours.size} differ"
        checked[kind] += ours.size
    assert min(checked.values()) > 0


def test_mean_large_count_and_extreme_multipliers():
    """MEAN over 4096 elements (the count's shift is capped) and multipliers near both ends."""
    rng = np.random.default_rng(5)
    for in_scale, out_scale in [(1e-8, 1.0), (2.0**-20, 2.0**10), (4.0, 1e-4), (0.02, 0.02)]:
        b = GraphBuilder("case", "int8")
        x = b.input("x", (1, 64, 64, 3), q(in_scale, -128))
        graph = b.finish([b.mean(x, "y", axis=(1, 2), keep_dims=False, quant=q(out_scale, 127))])
        batch = rng.integers(-128, 128, (3, 64, 64, 3)).astype(np.int8)
        batch[0] = 127
        ours = run_graph(graph, batch, rounding="litert")["y"]
        assert np.array_equal(ours, run_litert(export_tflite(graph), batch)["y"]), (in_scale, out_scale)


def test_reshape_and_chain_match_tflite():
    """A small conv -> pool -> flatten -> FC -> softmax chain, every intermediate tensor compared."""
    rng = np.random.default_rng(7)
    b = GraphBuilder("chain", "int8")
    x = b.input("x", (1, 1, 64, 1), q(0.05, 3))
    ws = np.float32(2.0 ** rng.uniform(-9, -6, 8))
    c = b.conv2d(x, "conv", rng.integers(-127, 128, (8, 1, 9, 1)), rng.integers(-500, 500, 8), stride=(1, 4),
                 padding="same", activation="relu", quant=q(0.04, -128), w_quant=QuantParams(ws, np.zeros(8), 0),
                 b_quant=QuantParams(ws * np.float32(0.05), np.zeros(8), 0))
    p = b.max_pool2d(c, "pool", filter_hw=(1, 2), stride=(1, 2), quant=q(0.04, -128))
    f = b.reshape(p, "flat", (1, -1), quant=q(0.04, -128))
    fs = np.float32(2.0 ** rng.uniform(-9, -6, 5))
    o = b.fully_connected(f, "fc", rng.integers(-127, 128, (5, 64)), rng.integers(-500, 500, 5), quant=q(0.1, 4),
                          w_quant=QuantParams(fs, np.zeros(5), 0), b_quant=QuantParams(fs * np.float32(0.04), np.zeros(5), 0))
    graph = b.finish([b.softmax(o, "prob", quant=q(1 / 256, -128))])
    check(graph, 11, n=40)
