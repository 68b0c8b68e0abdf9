"""Small int8 models for the code generator, build and run tests.

``tiny_graph(seed)``: a hand-built conv -> max pool -> reshape -> fully connected -> softmax graph
with random weights and quantization (zero points at the limits, channel counts that are not a
multiple of 4, SAME padding with an odd remainder, a stride).

``conv1d_graph(seed)``: a hand-built TICNN-like 1-D graph (three conv -> max pool 2 stages, a wide
strided first conv, channel counts not a multiple of 4, then fully connected and softmax) whose
convolutions take edge-deploy's Winograd kernel with the pool fused in under ``--winograd auto``.

``mean_graph(seed, axis, keep_dims, ...)``: a MEAN (edge-deploy's ed_mean_s8) on a random
NHWC tensor, after a 3x3 conv or straight on the input, then a fully connected layer reading it.

``ticnn_graph()``: a small TICNN (edge_deploy.models, untrained, fixed seed) lowered and
quantized by edge_deploy.quantize with calibration windows of the bundled CWRU excerpt, and
``ticnn_inputs(graph, n)`` quantized test windows of the excerpt for it.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder

TICNN_PARAMS = {"channels": [8, 16, 16], "kernels": [64, 3, 3], "strides": [8, 1, 1], "paddings": [28, 1, 1],
                "fc_units": 32, "input_length": 2048, "n_classes": 10, "input_dropout": None}


def _q(scale: float, zero_point: int) -> QuantParams:
    return QuantParams([np.float32(scale)], [zero_point])


def tiny_graph(seed: int = 0, *, name: str = "tiny", in_zero_point: int = -128):
    """A five-op int8 graph (input (1, 9, 11, 3)) with random weights and quantization."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(name, "int8")
    x = b.input("input", (1, 9, 11, 3), _q(0.05, in_zero_point))
    cout = 5
    w_scales = np.float32(2.0 ** rng.uniform(-9, -6, cout))
    conv = b.conv2d(x, "conv", rng.integers(-127, 128, (cout, 3, 3, 3)), rng.integers(-3000, 3000, cout),
                    stride=(2, 1), padding="same", activation="relu", quant=_q(0.02, -128),
                    w_quant=QuantParams(w_scales, np.zeros(cout), 0),
                    b_quant=QuantParams(np.float32(0.05) * w_scales, np.zeros(cout), 0))
    pool = b.max_pool2d(conv, "pool", filter_hw=(2, 2), stride=(2, 2), padding="valid", quant=_q(0.02, -128))
    flat = b.reshape(pool, "flatten", (1, -1), quant=_q(0.02, -128))
    depth = b.graph.tensor(flat).shape[1]
    units = 7
    fc_scale = np.float32(0.004)
    fc = b.fully_connected(flat, "fc", rng.integers(-127, 128, (units, depth)), rng.integers(-2000, 2000, units),
                           quant=_q(0.1, 3), w_quant=QuantParams([fc_scale], [0]),
                           b_quant=QuantParams([np.float32(0.02) * fc_scale], [0]))
    out = b.softmax(fc, "softmax", quant=_q(1 / 256, -128))
    return b.finish([out])


def conv1d_graph(seed: int = 0, *, name: str = "conv1d"):
    """A TICNN-like int8 graph (input (1, 1, 256, 1)) with random weights: conv(16 taps, stride 4,
    8 ch) / conv(3, 12 ch) / conv(3, 6 ch), each with ReLU and a max pool of 2, then fc(5), softmax."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(name, "int8")
    y = b.input("input", (1, 1, 256, 1), _q(0.03, 0))
    cin = 1
    for i, (cout, taps, stride) in enumerate(((8, 16, 4), (12, 3, 1), (6, 3, 1)), start=1):
        w_scales = np.float32(2.0 ** rng.uniform(-9, -6, cout))
        y = b.conv2d(y, f"conv{i}", rng.integers(-127, 128, (cout, 1, taps, cin)), rng.integers(-3000, 3000, cout),
                     stride=(1, stride), padding="same", activation="relu", quant=_q(0.03, -128),
                     w_quant=QuantParams(w_scales, np.zeros(cout), 0),
                     b_quant=QuantParams(np.float32(0.03) * w_scales, np.zeros(cout), 0))
        y = b.max_pool2d(y, f"pool{i}", filter_hw=(1, 2), stride=(1, 2), quant=_q(0.03, -128))
        cin = cout
    flat = b.reshape(y, "flatten", (1, -1), quant=_q(0.03, -128))
    depth, units, fc_scale = b.graph.tensor(flat).shape[1], 5, np.float32(0.004)
    fc = b.fully_connected(flat, "fc", rng.integers(-127, 128, (units, depth)), rng.integers(-2000, 2000, units),
                           quant=_q(0.1, 3), w_quant=QuantParams([fc_scale], [0]),
                           b_quant=QuantParams([np.float32(0.03) * fc_scale], [0]))
    return b.finish([b.softmax(fc, "softmax", quant=_q(1 / 256, -128))])


def mean_graph(seed: int = 0, *, axis=(1, 2), keep_dims: bool = False, shape=(1, 6, 7, 10), conv: bool = True,
               in_zero_point: int = -128, out_scale: float = 0.01, out_zero_point: int = 5, name: str = "mean"):
    """MEAN over ``axis`` of an int8 NHWC tensor (the output of a 3x3 conv with ReLU when ``conv``,
    else the input), then fully connected (4 units) on the flattened result."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(name, "int8")
    y = b.input("input", shape, _q(0.05, in_zero_point))
    if conv:
        cin, cout = shape[3], 6
        w_scales = np.float32(2.0 ** rng.uniform(-9, -6, cout))
        y = b.conv2d(y, "conv", rng.integers(-127, 128, (cout, 3, 3, cin)), rng.integers(-3000, 3000, cout),
                     padding="same", activation="relu", quant=_q(0.02, -128),
                     w_quant=QuantParams(w_scales, np.zeros(cout), 0),
                     b_quant=QuantParams(np.float32(0.05) * w_scales, np.zeros(cout), 0))
    y = b.mean(y, "mean", axis=axis, keep_dims=keep_dims, quant=_q(out_scale, out_zero_point))
    flat = b.reshape(y, "flatten", (1, -1), quant=_q(out_scale, out_zero_point))
    depth, units, fc_scale = b.graph.tensor(flat).shape[1], 4, np.float32(0.004)
    fc = b.fully_connected(flat, "fc", rng.integers(-127, 128, (units, depth)), rng.integers(-2000, 2000, units),
                           quant=_q(0.1, 3), w_quant=QuantParams([fc_scale], [0]),
                           b_quant=QuantParams([np.float32(out_scale) * fc_scale], [0]))
    return b.finish([fc])


def ticnn_graph():
    """A small untrained TICNN, lowered and quantized with real calibration windows."""
    import torch

    from edge_deploy.data import load_windows
    from edge_deploy.models import build_model
    from edge_deploy.quantize.lower import lower_module
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_graph

    torch.manual_seed(0)
    model = build_model("ticnn", **TICNN_PARAMS).eval()
    x, _, _ = load_windows(None, "train", window=2048, stride=512)
    graph = lower_module(model, (1, 1, 2048), name="ticnn_small")
    return quantize_graph(graph, to_ir_layout(x[:64]))


def ticnn_inputs(graph, n: int) -> np.ndarray:
    """``n`` test windows of the bundled excerpt, quantized for ``graph``'s input."""
    from edge_deploy.data import load_windows
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_input

    x, _, _ = load_windows(None, "test", window=2048)
    picks = np.random.default_rng(1).choice(len(x), n, replace=False)
    return quantize_input(to_ir_layout(x[np.sort(picks)]), graph.tensor(graph.inputs[0]).quant)


def random_inputs(graph, n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniformly random int8 samples for ``graph``, the first two at the int8 limits."""
    shape = graph.tensor(graph.inputs[0]).shape[1:]
    batch = np.random.default_rng(seed).integers(-128, 128, (n, *shape)).astype(np.int8)
    batch[0] = 127
    if n > 1:
        batch[1] = -128
    return batch
