"""The graph IR: shape inference, validation errors that name the op, lifetimes, kernel params."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import QuantParams
from edge_deploy.numerics.windows import compute_padding
from edge_deploy.ops import GraphBuilder, kernel_params, validate
from edge_deploy.ops.conv2d import conv2d_s8


def small_graph():
    b = GraphBuilder("g", "int8")
    x = b.input("x", (1, 1, 32, 2), QuantParams([0.1], [0]))
    ws = np.full(4, 0.01, dtype=np.float32)
    c = b.conv2d(x, "conv", np.ones((4, 1, 5, 2)), np.zeros(4), stride=(1, 2), padding="same", activation="relu",
                 quant=QuantParams([0.05], [-128]), w_quant=QuantParams(ws, np.zeros(4), 0),
                 b_quant=QuantParams(ws * np.float32(0.1), np.zeros(4), 0))
    p = b.max_pool2d(c, "pool", filter_hw=(1, 2), stride=(1, 2), quant=QuantParams([0.05], [-128]))
    f = b.reshape(p, "flat", (1, -1), quant=QuantParams([0.05], [-128]))
    return b.finish([f])


def test_shapes_are_inferred():
    g = small_graph()
    assert [g.tensor(op.outputs[0]).shape for op in g.ops] == [(1, 1, 16, 4), (1, 1, 8, 4), (1, 32)]


def test_lifetimes_give_first_and_last_use():
    g = small_graph()
    assert g.lifetimes() == {"x": (-1, 0), "conv": (0, 1), "pool": (1, 2), "flat": (2, 3)}


def test_validation_names_the_bad_op():
    g = small_graph()
    g.tensor("pool").shape = (1, 1, 9, 4)
    with pytest.raises(EdgeDeployError, match="op 'pool' \\(max_pool2d\\).*shape"):
        validate(g)
    g = small_graph()
    g.ops[0].attrs["activation"] = "gelu"
    with pytest.raises(EdgeDeployError, match="op 'conv'.*gelu"):
        validate(g)
    g = small_graph()
    g.ops.reverse()
    with pytest.raises(EdgeDeployError, match="before any op produces it"):
        validate(g)
    g = small_graph()
    g.tensor("conv/weights").quant = QuantParams(np.ones(3, dtype=np.float32), np.zeros(3), 0)
    with pytest.raises(EdgeDeployError, match="3 scales for 4 channels"):
        validate(g)


def test_mean_axes_are_checked_and_resolved():
    b = GraphBuilder("m", "int8")
    x = b.input("x", (1, 3, 5), QuantParams([0.1], [0]))
    y = b.mean(x, "y", axis=(-1, 2), keep_dims=False, quant=QuantParams([0.1], [0]))
    g = b.finish([y])
    assert g.tensor("y").shape == (1, 3)
    assert kernel_params(g, g.ops[0])["axis"] == (2,)
    g.ops[0].attrs["axis"] = (3,)
    with pytest.raises(EdgeDeployError, match="op 'y' \\(mean\\).*out of range"):
        validate(g)


def test_kernel_params_feed_the_reference_functions():
    g = small_graph()
    params = kernel_params(g, g.ops[0])
    assert params["input_offset"] == 0 and params["output_offset"] == -128
    assert params["padding"] == (0, 0, 1, 2) and params["act_min"] == -128
    assert params["out_mult"].shape == (4,) and params["out_shift"].dtype == np.int32
    x = np.random.default_rng(0).integers(-128, 128, (3, 1, 32, 2)).astype(np.int8)
    y = conv2d_s8(x, g.tensor("conv/weights").data, g.tensor("conv/bias").data, **params)
    assert y.shape == (3, 1, 16, 4) and y.dtype == np.int8


def test_compute_padding_matches_tflite_same():
    pads, out = compute_padding((5, 10), (3, 4), (2, 3), (1, 1), "same")
    assert out == (3, 4) and pads == (1, 1, 1, 2)
