"""The model zoo: ANTNet, DS-CNN and MobileNetV1 build, run, describe their widths, and the two
MLPerf Tiny models lower to the same layers as the reference .tflite files."""

from __future__ import annotations


import pytest
import torch

from mlperf_data import MISSING, MLPERF

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model, count_macs, count_parameters, input_params, list_models
from edge_deploy.numerics.windows import compute_padding

torch.set_num_threads(1)


@pytest.mark.parametrize(("name", "shape", "classes", "macs"), [
    ("antnet", (1, 32, 32), 10, None),
    ("dscnn", (1, 49, 10), 12, 2_656_768),          # MLPerf Tiny KWS reference: 2.66 M MACs
    ("mobilenet_v1", (3, 96, 96), 2, 7_489_664),    # MLPerf Tiny VWW reference: 7.49 M MACs
])
def test_zoo_models_build_with_their_default_input(name, shape, classes, macs):
    assert name in list_models()
    model = build_model(name).eval()
    assert model.input_shape == shape
    assert model(torch.randn(2, *shape)).shape == (2, classes)
    if macs is not None:
        assert count_macs(model, shape) == macs
    # The trainer sets the input from the data; width_params rebuilds the same shapes.
    other = build_model(name, **input_params(name, (3, 40, 24)))
    assert other.input_shape == (3, 40, 24) and other(torch.randn(1, 3, 40, 24)).shape == (1, classes)
    rebuilt = build_model(name, **model.width_params({}))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_antnet_blocks_hold_attention_and_residuals():
    model = build_model("antnet", gate="hard_sigmoid")
    blocks = [m for name, m in model.named_children() if name.startswith("block")]
    assert [b.residual for b in blocks] == [True, False, True, False, True]
    assert all(isinstance(b.attention.gate, torch.nn.Hardsigmoid) for b in blocks)
    assert blocks[1].attention.fc1.out_channels == max(4, blocks[1].expand.conv.out_channels // 8)
    assert 30_000 < count_parameters(model) < 60_000


@pytest.mark.parametrize(("params", "words"), [
    ({"channels": [8, 8], "strides": [1]}, "one entry per block"),
    ({"gate": "relu"}, "unknown attention gate"),
    ({"channels": [8, 0]}, "positive integers"),
    ({"residual": [True, False, True, False, True], "stem": 8}, "residual block must keep its shape"),
])
def test_antnet_refuses_params_that_do_not_fit(params, words):
    with pytest.raises(EdgeDeployError, match=words):
        build_model("antnet", **params)


def test_models_refuse_inputs_of_another_rank():
    with pytest.raises(EdgeDeployError, match=r"takes \(channels, height, width\)"):
        input_params("antnet", (1, 2048))
    with pytest.raises(EdgeDeployError, match=r"takes \(channels, length\)"):
        input_params("ticnn", (1, 32, 32))


def _geometry(graph, op):
    from edge_deploy.ops import get_op

    t = graph.tensor(op.outputs[0])
    pads = None
    if op.kind in ("conv2d", "depthwise_conv2d"):
        x, w = graph.tensor(op.inputs[0]).shape, graph.tensor(op.inputs[1]).shape
        pads = compute_padding(x[1:3], w[1:3], op.attrs["stride"], op.attrs["dilation"], op.attrs["padding"])[0]
    return op.kind, tuple(t.shape), get_op(op).macs(graph, op), op.attrs.get("stride"), pads


@pytest.mark.parametrize(("name", "reference"), [("dscnn", "kws_ref_model.tflite"),
                                                 ("mobilenet_v1", "vww_96_int8.tflite")])
def test_mlperf_models_lower_to_the_reference_layers(name, reference):
    # The same layers, shapes, MACs, strides and padded windows as MLPerf Tiny's TensorFlow model
    # (whose last op, the softmax, the logits model leaves out); SAME pads folded, no PAD left.
    if not (MLPERF / reference).is_file():
        pytest.skip(MISSING)
    from edge_deploy.quantize.lower import lower_module
    from edge_deploy.tflite import load_tflite

    model = build_model(name).eval()
    ours = lower_module(model, (1, *model.input_shape), name)
    theirs = load_tflite(MLPERF / reference)
    assert [_geometry(ours, op) for op in ours.ops] == [_geometry(theirs, op) for op in theirs.ops if op.kind != "softmax"]


def test_antnet_hard_sigmoid_gate_is_named_when_the_int8_lowering_refuses_it():
    # TFLite has no int8 hard sigmoid: the sigmoid gate (the default) lowers, this one is refused by name.
    from edge_deploy.quantize.lower import lower_module

    params = dict(input_size=[8, 8], stem=4, channels=[4], strides=[1], expansion=1, head=0)
    assert [op.kind for op in lower_module(build_model("antnet", **params).eval(), (1, 1, 8, 8)).ops].count("logistic") == 1
    model = build_model("antnet", gate="hard_sigmoid", **params).eval()
    with pytest.raises(EdgeDeployError, match=r"layer 'block1.attention.gate' \(Hardsigmoid\) cannot be lowered to int8"):
        lower_module(model, (1, 1, 8, 8), "antnet")
