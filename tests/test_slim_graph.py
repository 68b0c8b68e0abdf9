"""Channel dependency analysis and physical channel removal on random small graphs."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.graph import analyze_channels
from edge_deploy.slim.surgery import remove_channels, resize_to_state_dict

torch.set_num_threads(1)


class RandomNet(nn.Module):
    """A small CNN built from a plan: conv/bn/relu blocks, residual blocks, depthwise blocks,
    pools, then a flatten or a global mean, and a two-layer head with batch norm."""

    def __init__(self, plan: list[tuple], dims: int, in_channels: int, length: int, head: str,
                 hidden: int, classes: int) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        bn = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        pool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
        self.plan, self.head, self.dims = plan, head, dims
        self.blocks = nn.ModuleList()
        channels = in_channels
        for step in plan:
            if step[0] == "conv":
                out, k = step[1], step[2]
                self.blocks.append(nn.Sequential(conv(channels, out, k, padding=k // 2, bias=False), bn(out), nn.ReLU()))
                channels = out
            elif step[0] == "res":
                self.blocks.append(nn.ModuleDict({
                    "a": nn.Sequential(conv(channels, step[1], 3, padding=1), bn(step[1]), nn.ReLU()),
                    "b": nn.Sequential(conv(step[1], channels, 3, padding=1), bn(channels)),
                }))
            elif step[0] == "dw":
                self.blocks.append(nn.Sequential(conv(channels, channels, 3, padding=1, groups=channels), bn(channels), nn.ReLU()))
            else:
                self.blocks.append(pool(2))
                length //= 2
        features = channels * (length ** dims if head == "flatten" else 1)
        self.fc1 = nn.Linear(features, hidden)
        self.fc_bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        for step, block in zip(self.plan, self.blocks):
            if step[0] == "res":
                x = torch.relu(block["b"](block["a"](x)) + x)
            else:
                x = block(x)
        x = torch.flatten(x, 1) if self.head == "flatten" else x.mean(dim=tuple(range(2, 2 + self.dims)))
        return self.fc2(torch.relu(self.fc_bn(self.fc1(x))))


step = st.one_of(
    st.tuples(st.just("conv"), st.integers(2, 6), st.sampled_from([1, 3, 5])),
    st.tuples(st.just("res"), st.integers(2, 5)),
    st.tuples(st.just("dw")),
    st.tuples(st.just("pool")),
)


def _randomize(model: nn.Module, rng: torch.Generator) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.weight.copy_(torch.randn(module.num_features, generator=rng))
                module.bias.copy_(torch.randn(module.num_features, generator=rng))
                module.running_mean.copy_(torch.randn(module.num_features, generator=rng) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=rng) + 0.5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(step, min_size=1, max_size=5).filter(lambda p: sum(s[0] == "pool" for s in p) <= 2), dims=st.sampled_from([1, 2]),
       in_channels=st.integers(1, 3), head=st.sampled_from(["flatten", "mean"]),
       hidden=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_removing_zeroed_channels_keeps_outputs(plan, dims, in_channels, head, hidden, seed):
    length = 8
    model = RandomNet(plan, dims, in_channels, length, head, hidden, classes=3)
    rng = torch.Generator().manual_seed(seed)
    _randomize(model, rng)
    model.eval()
    x = torch.randn((4, in_channels) + (length,) * dims, generator=rng)
    graph = analyze_channels(model, x[:1])

    # Zero the gamma and beta of a random set of channels: after ReLU they carry exactly 0.
    chooser = random.Random(seed)
    candidates = [g for g in graph.prunable_groups() if graph.batchnorm_slots(g)]
    drop = {g.id for g in candidates if chooser.random() < 0.5}
    for layer, ids in graph.groups_by_layer().items():
        if set(ids) <= drop:
            drop.discard(ids[0])
    by_id = {g.id: g for g in graph.groups}
    with torch.no_grad():
        for gid in drop:
            for slot in graph.batchnorm_slots(by_id[gid]):
                bn = model.get_submodule(slot.module)
                bn.weight[slot.index] = 0.0
                bn.bias[slot.index] = 0.0
    expected = model(x)

    pruned = remove_channels(model, graph, drop).eval()
    got = pruned(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)
    n_params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    if drop:
        assert n_params(pruned) < n_params(model)
    for (name, a), (_, b) in zip(model.named_modules(), pruned.named_modules()):
        assert type(a) is type(b), name
    # A fresh model of the original size resized to the pruned state dict reloads it exactly.
    fresh = RandomNet(plan, dims, in_channels, length, head, hidden, classes=3)
    resize_to_state_dict(fresh, pruned.state_dict())
    fresh.load_state_dict(pruned.state_dict())
    assert torch.equal(fresh.eval()(x), got)


def test_flatten_maps_each_channel_to_a_block_of_linear_inputs():
    model = nn.Sequential(nn.Conv1d(1, 3, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Flatten(), nn.Linear(3 * 5, 4), nn.ReLU(), nn.Linear(4, 2))
    graph = analyze_channels(model, torch.randn(1, 1, 12))
    assert graph.flatten_inputs == {"5": (3, 5)}
    conv_groups = [g for g in graph.groups if any(s.module == "0" and s.role == "out" for s in g.slots)]
    assert len(conv_groups) == 3
    for g in conv_groups:
        c = next(s.index for s in g.slots if s.module == "0")
        assert sorted(s.index for s in g.slots if s.module == "5" and s.role == "in") == list(range(c * 5, c * 5 + 5))
        assert sorted(s.index for s in g.slots if s.module == "1") == [c]
        assert g.prunable
    # The classifier's outputs reach the model output; the input channel reaches the input.
    assert not next(g for g in graph.groups if any(s.module == "7" and s.role == "out" for s in g.slots)).prunable
    assert not next(g for g in graph.groups if any(s.module == "0" and s.role == "in" for s in g.slots)).prunable
    assert graph.groups_by_layer()["5"] == sorted(g.id for g in graph.groups if any(s.module == "5" and s.role == "out" for s in g.slots))


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(2, 4, 3, padding=1)
        self.b = nn.Conv1d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        y = self.a(x)
        return self.head((self.b(y) + y).mean(dim=2))


def test_residual_add_ties_channels():
    graph = analyze_channels(_Residual(), torch.randn(1, 2, 8))
    tied = [g for g in graph.groups if any(s.module == "b" and s.role == "out" for s in g.slots)]
    assert len(tied) == 4
    for g in tied:
        a_out = [s.index for s in g.slots if s.module == "a" and s.role == "out"]
        b_out = [s.index for s in g.slots if s.module == "b" and s.role == "out"]
        b_in = [s.index for s in g.slots if s.module == "b" and s.role == "in"]
        assert a_out == b_out == b_in and len(a_out) == 1
        assert g.prunable


class _Opaque(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(1, 4, 3)
        self.b = nn.Conv1d(4, 4, 3)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.roll(self.a(x), 1, dims=1)  # mixes channels: the analysis must not follow it
        return self.head(self.b(x).mean(dim=2))


def test_unknown_op_blocks_pruning_and_removal_refuses():
    model = _Opaque()
    graph = analyze_channels(model, torch.randn(1, 1, 10))
    a_groups = [g for g in graph.groups if any(s.module == "a" and s.role == "out" for s in g.slots)]
    assert a_groups and not any(g.prunable for g in a_groups)
    assert "roll" in a_groups[0].reason
    b_groups = [g for g in graph.groups if any(s.module == "b" and s.role == "out" for s in g.slots)]
    assert all(g.prunable for g in b_groups)
    with pytest.raises(EdgeDeployError, match="cannot be removed"):
        remove_channels(model, graph, [a_groups[0].id])
    with pytest.raises(EdgeDeployError, match="no channels"):
        remove_channels(model, graph, [g.id for g in b_groups])


class _LinearGate(nn.Module):
    """A squeeze-excite gate written with nn.Linear and views, as users often write it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc1 = nn.Linear(6, 3)
        self.fc2 = nn.Linear(3, 6)
        self.head = nn.Conv2d(6, 4, 1)
        self.bn_head = nn.BatchNorm2d(4)
        self.classifier = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        x = x * gate.view(x.shape[0], -1, 1, 1)
        x = torch.relu(self.bn_head(self.head(x)))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _group_of(graph, module: str, role: str, index: int = 0):
    return next(g for g in graph.groups if any(s.module == module and s.role == role and s.index == index
                                               for s in g.slots))


def _zero_and_remove(model: nn.Module, graph, groups, x: torch.Tensor) -> tuple[torch.Tensor, nn.Module]:
    """Zero the batch-norm entries of ``groups`` (their channels then carry exactly 0); return the
    model's outputs on ``x`` and the model with those channels removed."""
    with torch.no_grad():
        for g in groups:
            for slot in graph.batchnorm_slots(g):
                model.get_submodule(slot.module).weight[slot.index] = 0.0
                model.get_submodule(slot.module).bias[slot.index] = 0.0
    return model(x), remove_channels(model, graph, [g.id for g in groups]).eval()


def test_attention_gates_tie_the_gate_to_the_map_it_scales():
    model = _LinearGate()
    _randomize(model, torch.Generator().manual_seed(0))
    x = torch.randn(3, 2, 5, 5)
    graph = analyze_channels(model.eval(), x[:1])
    group = _group_of(graph, "conv", "out", 4)
    assert group.prunable
    slots = {(s.module, s.role) for s in group.slots}
    assert slots == {("conv", "out"), ("bn", "out"), ("fc1", "in"), ("fc2", "out"), ("head", "in")}
    assert [s.index for s in group.slots if s.module == "fc2"] == [4]
    expected, pruned = _zero_and_remove(model, graph, [group, _group_of(graph, "conv", "out", 1)], x)
    assert pruned.fc2.out_features == 4 and pruned.fc1.in_features == 4 and pruned.head.in_channels == 4
    # The gate of a removed channel multiplied zeros; without it the outputs are unchanged.
    assert torch.allclose(pruned(x), expected, atol=1e-5)


def test_antnet_slims_consistently_across_residuals_depthwise_and_gates():
    from edge_deploy.models import build_model

    model = build_model("antnet", in_channels=1, input_size=[16, 16], stem=8, channels=[8, 8, 12], strides=[1, 2, 1],
                        expansion=2, head=16, n_classes=3)
    _randomize(model, torch.Generator().manual_seed(1))
    x = torch.randn(4, 1, 16, 16)
    graph = analyze_channels(model.eval(), x[:1])
    # The stem and the first block's output are tied by block1's residual add (8 -> 8, stride 1).
    stem = _group_of(graph, "stem.conv", "out", 2)
    assert {"block1.project.conv", "block2.expand.conv"} <= set(stem.modules()) and stem.prunable
    # A block's expanded channel runs through the depthwise (and its SAME pad), the gate and the projection.
    hidden = _group_of(graph, "block2.expand.conv", "out", 3)
    assert set(hidden.modules()) == {"block2.expand.conv", "block2.expand.bn", "block2.depthwise.conv",
                                     "block2.depthwise.bn", "block2.attention.fc1", "block2.attention.fc2",
                                     "block2.project.conv"} and hidden.prunable
    assert not _group_of(graph, "classifier", "out").prunable
    expected, pruned = _zero_and_remove(model, graph, [stem, hidden, _group_of(graph, "block3.expand.conv", "out", 0)], x)
    assert torch.allclose(pruned(x), expected, atol=1e-4)
    rebuilt = build_model("antnet", **pruned.width_params({}))
    rebuilt.load_state_dict(pruned.state_dict())
    assert torch.equal(rebuilt.eval()(x), pruned(x))


def test_depthwise_with_a_channel_multiplier_is_marked_unprunable():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 8, 3, groups=4),
                          nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    graph = analyze_channels(model, torch.randn(1, 1, 8, 8))
    group = _group_of(graph, "0", "out", 1)
    assert not group.prunable and "grouped convolution 3 (groups=4)" in group.reason
