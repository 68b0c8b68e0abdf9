"""TICNN and the model registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import ChangingRateDropout, build_model, count_macs, count_parameters, list_models, register_model

torch.set_num_threads(1)

# What the int8 code generator lowers; dropout is the identity in eval mode.
LOWERABLE = (nn.Conv1d, nn.BatchNorm1d, nn.ReLU, nn.MaxPool1d, nn.Flatten, nn.Linear, nn.Dropout)


def test_default_ticnn_has_the_published_shape_and_cost() -> None:
    model = build_model("ticnn").eval()
    assert model(torch.randn(3, 1, 2048)).shape == (3, 10)
    conv1 = model.conv1
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size, conv1.stride) == (1, 16, (64,), (8,))
    assert [m.kernel_size for m in model.modules() if isinstance(m, nn.Conv1d)][1:] == [(3,)] * 4
    assert 1.3e6 < count_macs(model, (1, 2048)) < 1.7e6
    assert 50_000 < count_parameters(model) < 90_000


def test_every_layer_is_lowerable_with_integer_padding() -> None:
    model = build_model("ticnn", channels=[8, 12, 16, 16, 20], fc_units=30, fc_dropout=0.2)
    leaves = [m for m in model.modules() if not list(m.children())]
    assert all(isinstance(m, LOWERABLE) for m in leaves), [type(m).__name__ for m in leaves]
    for conv in (m for m in leaves if isinstance(m, nn.Conv1d)):
        assert all(isinstance(p, int) for p in conv.padding)


def test_input_dropout_is_identity_in_eval_and_active_in_training() -> None:
    dropout = ChangingRateDropout(0.1, 0.9)
    x = torch.ones(4, 1, 2048)
    assert torch.equal(dropout.eval()(x), x)
    torch.manual_seed(0)
    dropped = [float((dropout.train()(x) == 0).float().mean()) for _ in range(50)]
    assert 0.05 < min(dropped) < max(dropped) < 0.95 and max(dropped) - min(dropped) > 0.3  # the rate changes
    assert isinstance(dropout, nn.Dropout)  # lowering that skips nn.Dropout skips it too


def test_widths_are_configurable_and_traceable() -> None:
    model = build_model("ticnn", channels=[4, 8, 8, 8, 8], fc_units=12, n_classes=3, input_length=1024).eval()
    assert model(torch.randn(2, 1, 1024)).shape == (2, 3)
    assert model.fc1.in_features == 8 * 3
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 1, 1024)
    assert torch.equal(traced(x), model(x))


def test_registry_errors_and_plugins() -> None:
    with pytest.raises(EdgeDeployError, match="unknown model 'resnet'"):
        build_model("resnet")
    with pytest.raises(EdgeDeployError, match="model 'ticnn'.*widths"):
        build_model("ticnn", widths=[1])
    with pytest.raises(EdgeDeployError, match="same non-zero length"):
        build_model("ticnn", channels=[8, 8])
    with pytest.raises(EdgeDeployError, match="shrinks to nothing"):
        build_model("ticnn", input_length=128)

    @register_model("test_linear_probe")
    class Probe(nn.Sequential):
        def __init__(self, input_length: int = 16, n_classes: int = 2) -> None:
            super().__init__(nn.Flatten(), nn.Linear(input_length, n_classes))

    assert "test_linear_probe" in list_models()
    assert build_model("test_linear_probe", input_length=8)(torch.randn(1, 1, 8)).shape == (1, 2)
