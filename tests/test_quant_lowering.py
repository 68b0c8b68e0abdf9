"""PyTorch -> IR lowering (identical logits) and post-training quantization (TFLite spec)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run, run_graph
from edge_deploy.quantize.lower import lower_module
from edge_deploy.quantize.pipeline import to_ir_layout
from edge_deploy.quantize.ptq import dequantize, quantize_graph, quantize_input


def randomize_batchnorm(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


class Net1d(nn.Module):
    """Conv1d / BN / ReLU / pools / a non-SAME padding / residual add / Flatten / Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(2, 6, 9, stride=3, padding=4)
        self.bn1 = nn.BatchNorm1d(6)
        self.pool1 = nn.MaxPool1d(2)
        self.conv2 = nn.Conv1d(6, 6, 3, padding=1)
        self.conv3 = nn.Conv1d(6, 5, 4, padding=3, dilation=1)  # not expressible as SAME: a PAD op
        self.pool2 = nn.AvgPool1d(3, stride=2)
        self.drop = nn.Dropout(0.3)
        self.fc1 = nn.Linear(5 * 6, 12)
        self.fc2 = nn.Linear(12, 4)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(x + self.conv2(x))
        x = self.pool2(nn.functional.relu6(self.conv3(x)))
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(torch.relu(self.fc1(x)))


def net2d():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 5),
    )


@pytest.mark.parametrize("build, shape", [(Net1d, (1, 2, 64)), (net2d, (1, 3, 16, 16))])
def test_lowered_float_graph_gives_the_same_logits(build, shape):
    torch.manual_seed(0)
    model = randomize_batchnorm(build())
    graph = lower_module(model, shape)
    x = torch.randn((16,) + shape[1:])
    expected = model(x).detach().numpy()
    got = run(graph, to_ir_layout(x.numpy()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    kinds = [op.kind for op in graph.ops]
    assert "reshape" in kinds and not any(k == "batchnorm" for k in kinds)


def test_batchnorm_is_folded_and_relu_fused():
    torch.manual_seed(1)
    graph = lower_module(randomize_batchnorm(net2d()), (1, 3, 16, 16))
    # PyTorch pads a stride-2 conv top/left, TFLite's SAME bottom/right: an explicit PAD comes first.
    assert graph.ops[0].kind == "pad"
    convs = [(op.kind, op.attrs.get("activation")) for op in graph.ops if op.kind != "pad"][:2]
    assert convs == [("conv2d", "relu6"), ("depthwise_conv2d", "relu")]


class SharedBeforeRelu(nn.Module):
    """The tensor before a ReLU also feeds a skip branch, through a BatchNorm or a Dropout alias."""

    def __init__(self, via: str):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.via = nn.BatchNorm1d(4) if via == "bn" else nn.Dropout(0.2)
        self.conv2 = nn.Conv1d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 16, 3)

    def forward(self, x):
        x = self.via(self.conv(x))
        y = torch.relu(x)
        z = self.conv2(y) + x  # the skip reads the tensor before the ReLU
        return self.fc(torch.flatten(z, 1))


@pytest.mark.parametrize("via", ["bn", "dropout"])
def test_relu_after_an_aliased_shared_tensor_is_not_fused(via):
    torch.manual_seed(3)
    model = randomize_batchnorm(SharedBeforeRelu(via))
    graph = lower_module(model, (1, 2, 16))
    conv = next(op for op in graph.ops if op.name == "conv")
    assert conv.attrs["activation"] == "none"
    x = torch.randn(8, 2, 16)
    np.testing.assert_allclose(run(graph, to_ir_layout(x.numpy())), model(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    if via == "bn":  # the separate activation quantizes and exports like any op
        pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
        from edge_deploy.tflite import export_tflite
        from edge_deploy.tflite.oracle import run_litert

        q = quantize_graph(graph, to_ir_layout(torch.randn(32, 2, 16).numpy()))
        batch = np.random.default_rng(1).integers(-128, 128, (20, 1, 16, 2)).astype(np.int8)
        names = q.activations()
        ours, theirs = run_graph(q, batch, rounding="litert", keep_all=True), run_litert(export_tflite(q), batch, names)
        assert {n: int(np.sum(ours[n] != theirs[n])) for n in names} == {n: 0 for n in names}


class SharedBeforeBatchnorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.drop = nn.Dropout(0.1)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x):
        x = self.drop(self.conv(x))
        return self.bn(x) + x


def test_batchnorm_after_an_aliased_shared_tensor_is_refused():
    with pytest.raises(EdgeDeployError, match="layer 'bn'.*other users"):
        lower_module(randomize_batchnorm(SharedBeforeBatchnorm()), (1, 2, 16))


class AddsAConstant(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)

    def forward(self, x):
        return self.conv(x) + 1.0


def test_add_of_a_python_number_is_named():
    with pytest.raises(EdgeDeployError, match="operation 'add'.*operand 2 is 1.0"):
        lower_module(AddsAConstant(), (1, 2, 16))


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh())
    with pytest.raises(EdgeDeployError, match="Tanh"):
        lower_module(model, (1, 1, 16))


def test_quantized_graph_follows_the_int8_spec_and_stays_close():
    torch.manual_seed(2)
    model = randomize_batchnorm(Net1d())
    graph = lower_module(model, (1, 2, 64))
    calib = torch.randn(64, 2, 64).numpy()
    q = quantize_graph(graph, to_ir_layout(calib))
    for op in q.ops:
        if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
            w, b = q.tensor(op.inputs[1]), q.tensor(op.inputs[2])
            x = q.tensor(op.inputs[0])
            assert w.dtype == "int8" and np.all(w.zero_point == 0) and np.abs(w.data).max() <= 127
            assert w.quant.scale.size == q.tensor(op.outputs[0]).shape[-1]  # per channel
            assert b.dtype == "int32"
            np.testing.assert_array_equal(b.quant.scale, np.float32(x.scale) * w.quant.scale)
        if op.kind in ("max_pool2d", "avg_pool2d", "reshape", "pad"):
            assert q.tensor(op.outputs[0]).quant == q.tensor(op.inputs[0]).quant
    x = torch.randn(200, 2, 64)
    expected = model(x).detach().numpy()
    xq = quantize_input(to_ir_layout(x.numpy()), q.tensor(q.inputs[0]).quant)
    got = dequantize(run(q, xq), q.tensor(q.outputs[0]).quant)
    assert np.mean(np.argmax(got, 1) == np.argmax(expected, 1)) > 0.9
    assert np.abs(got - expected).max() < 0.1 * np.abs(expected).max()


def test_percentile_calibration_clips_outliers():
    torch.manual_seed(3)
    graph = lower_module(randomize_batchnorm(net2d()), (1, 3, 16, 16))
    calib = torch.randn(32, 3, 16, 16).numpy()
    calib[0, 0, 0, 0] = 60.0  # one outlier
    minmax = quantize_graph(graph, to_ir_layout(calib))
    pct = quantize_graph(graph, to_ir_layout(calib), method="percentile", percentile=99.9)
    assert pct.tensor(pct.inputs[0]).scale < minmax.tensor(minmax.inputs[0]).scale / 2


def test_quantized_lowering_matches_tflite_in_every_tensor():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.tflite import export_tflite
    from edge_deploy.tflite.oracle import run_litert

    torch.manual_seed(4)
    graph = lower_module(randomize_batchnorm(Net1d()), (1, 2, 64))
    q = quantize_graph(graph, to_ir_layout(torch.randn(32, 2, 64).numpy()))
    batch = np.random.default_rng(0).integers(-128, 128, (30, 1, 64, 2)).astype(np.int8)
    names = q.activations()
    ours = run_graph(q, batch, rounding="litert", keep_all=True)
    theirs = run_litert(export_tflite(q), batch, names)
    assert {n: int(np.sum(ours[n] != theirs[n])) for n in names} == {n: 0 for n in names}
