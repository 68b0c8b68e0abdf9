"""Scalpel: group masks follow the int8 kernel's weight order; retraining holds them at zero."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.models import build_model
from edge_deploy.slim.cost import model_cost
from edge_deploy.slim.finetune import fine_tune
from edge_deploy.slim.scalpel import (
    ScalpelSettings,
    group_mask,
    group_sparse_bytes,
    group_sparsity_of,
    kernel_order_permutation,
    prunable_layers,
    scalpel_prune,
    to_kernel_order,
)

torch.set_num_threads(1)


def _reference_kernel_rows(weight: torch.Tensor, flatten_input=None) -> torch.Tensor:
    """The TFLite (OHWI / channels-last) order written out directly with permute."""
    if weight.dim() == 3:  # Conv1d (O, I, K) -> (O, K, I)
        return weight.permute(0, 2, 1).reshape(weight.shape[0], -1)
    if weight.dim() == 4:  # Conv2d (O, I, H, W) -> (O, H, W, I)
        return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)
    if flatten_input is not None:  # Linear after flatten of (C, L): NLC order, index l*C + c
        c, length = flatten_input
        return weight.reshape(weight.shape[0], c, length).permute(0, 2, 1).reshape(weight.shape[0], -1)
    return weight


layer_shapes = st.one_of(
    st.tuples(st.just("conv1d"), st.integers(1, 6), st.integers(1, 9), st.integers(1, 7)),
    st.tuples(st.just("conv2d"), st.integers(1, 5), st.integers(1, 6), st.integers(1, 4)),
    st.tuples(st.just("linear"), st.integers(1, 6), st.integers(1, 9), st.integers(1, 7)),
)


@settings(max_examples=60, deadline=None)
@given(shape=layer_shapes, group_size=st.sampled_from([1, 2, 3, 4]), sparsity=st.floats(0.0, 0.95),
       seed=st.integers(0, 2**16))
def test_group_masks_align_with_kernel_consumption_order(shape, group_size, sparsity, seed):
    kind, out, a, b = shape
    flatten = None
    if kind == "conv1d":
        module = nn.Conv1d(a, out, b)
    elif kind == "conv2d":
        module = nn.Conv2d(a, out, (b, b + 1))
    else:
        flatten = (a, b)
        module = nn.Linear(a * b, out)
    torch.manual_seed(seed)
    perm = kernel_order_permutation(module, flatten)
    weight = module.weight.detach()
    assert torch.equal(to_kernel_order(weight, perm), _reference_kernel_rows(weight, flatten))

    mask = group_mask(weight, perm, group_size, sparsity)
    assert mask.shape == weight.shape
    rows = _reference_kernel_rows(mask, flatten)
    n = rows.shape[1]
    n_groups = -(-n // group_size)
    total = rows.shape[0] * n_groups
    # Every group in kernel order is wholly kept or wholly pruned, and exactly floor(s*G) are pruned.
    for start in range(0, n, group_size):
        block = rows[:, start : start + group_size]
        assert bool(((block == 0).all(dim=1) | (block == 1).all(dim=1)).all())
    found = group_sparsity_of(rows, group_size)
    assert found.total_groups == total
    assert found.zero_groups == math.floor(sparsity * total)
    # The pruned groups are the weakest ones: no kept group has a smaller norm than a pruned one.
    w_rows = _reference_kernel_rows(weight, flatten)
    pad = (-n) % group_size
    norms = torch.nn.functional.pad(w_rows, (0, pad)).reshape(rows.shape[0], -1, group_size).norm(dim=2)
    kept = torch.nn.functional.pad(rows, (0, pad)).reshape(rows.shape[0], -1, group_size).any(dim=2)
    if kept.any() and (~kept).any():
        assert norms[kept].min() >= norms[~kept].max()


def test_group_sparsity_of_reads_int8_weights():
    w = np.array([[0, 0, 0, 0, 1, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int8)
    s4 = group_sparsity_of(w, 4)  # groups [0:4], [4:8], [8:10] per row
    assert (s4.zero_groups, s4.total_groups) == (4, 6)
    assert s4.fraction == pytest.approx(4 / 6)
    s2 = group_sparsity_of(w, 2)
    assert (s2.zero_groups, s2.total_groups) == (8, 10)
    # 2 kept groups of 4 (+1 index byte each) and 2 row counts; CSR: 2 nonzeros of 1+1 bytes.
    assert group_sparse_bytes(w, 4) == 2 * 5 + 4
    assert group_sparse_bytes(w, 1) == 2 * 2 + 4


@pytest.fixture(scope="module")
def tiny():
    x, y, _ = load_windows(None, "train", window=512)
    xv, yv, _ = load_windows(None, "val", window=512)
    pick = np.random.default_rng(0).permutation(len(x))[:1200]
    model = build_model("ticnn", input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1],
                        paddings=[6, 1, 1], fc_units=16)
    fine_tune(model, x[pick], y[pick], epochs=2)
    return model, (x[pick], y[pick]), (xv[:300], yv[:300])


def test_prunable_layers_know_the_flatten_before_fc1(tiny):
    model, train, _ = tiny
    layers = {layer.name: layer for layer in prunable_layers(model, torch.as_tensor(train[0][:1]))}
    assert list(layers) == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    w = model.fc1.weight.detach()
    assert torch.equal(to_kernel_order(w, layers["fc1"].perm), _reference_kernel_rows(w, (8, 16)))
    assert torch.equal(layers["fc2"].perm, torch.arange(16))


def test_scalpel_retraining_holds_groups_at_zero(tiny):
    model, train, val = tiny
    before = model_cost(model, (1, 512))
    result = scalpel_prune([model], train, val, ScalpelSettings(group_size=4, sparsity=0.75, skip=["fc2"],
                                                                retrain_epochs=0.5))
    pruned = result.members[0]
    after = model_cost(pruned, (1, 512))
    assert after.params == before.params and after.effective_macs < 0.4 * before.effective_macs
    layers = {layer.name: layer for layer in prunable_layers(pruned, torch.as_tensor(train[0][:1]))}
    for name in ("conv1", "conv2", "conv3", "fc1"):
        rows = to_kernel_order(pruned.get_submodule(name).weight.detach(), layers[name].perm)
        reached = group_sparsity_of(rows, 4)
        assert reached.zero_groups == math.floor(0.75 * reached.total_groups) == result.layers[name]["zero_groups"]
    assert group_sparsity_of(pruned.fc2.weight.detach(), 4).zero_groups == 0
    # The source model is untouched.
    assert group_sparsity_of(model.fc1.weight.detach(), 4).zero_groups == 0


def test_scalpel_sensitivity_and_bad_layer_names(tiny):
    model, train, val = tiny
    result = scalpel_prune([model], train, val, ScalpelSettings(sparsity="sensitivity", max_layer_loss=1.0,
                                                                retrain_epochs=0.0))
    for entry in result.layers.values():
        assert 0.0 <= entry["sparsity"] <= 0.95 and len(entry["curve"]) == 7
    with pytest.raises(EdgeDeployError, match="no prunable layer named conv9"):
        scalpel_prune([model], train, val, ScalpelSettings(sparsity={"conv9": 0.5}))


def test_group_sparsity_survives_int8_quantization_in_kernel_order(tiny, tmp_path):
    """The real lowering + quantizer: every pruned group is an all-zero int8 group of the OHWI /
    channels-last weights the kernels read, so the build can detect it from the weights alone."""
    from edge_deploy.quantize.pipeline import quantize_checkpoint
    from edge_deploy.train.checkpoint import Checkpoint

    model, train, val = tiny
    result = scalpel_prune([model], train, val, ScalpelSettings(group_size=4, sparsity=0.6, retrain_epochs=0.2,
                                                                   skip_classifier=False))
    checkpoint = Checkpoint(arch={"name": "ticnn", "params": {}}, members=[result.members[0]],
                            input={"channels": 1, "length": 512, "sample_rate_hz": 12000},
                            classes=[str(i) for i in range(10)], data={"data": None, "window": 512})
    quantized = quantize_checkpoint(checkpoint, calib=None, count=32)
    found = {}
    for op in quantized.graph.ops:
        if op.kind in ("conv2d", "fully_connected"):
            weight = quantized.graph.tensor(op.inputs[1])
            assert weight.dtype == "int8"
            found[op.name] = group_sparsity_of(weight.data.reshape(weight.shape[0], -1), 4)
    assert set(found) == set(result.layers)
    for name, entry in result.layers.items():
        # Quantization may round a few more tiny groups to zero, never fewer.
        assert found[name].zero_groups >= entry["zero_groups"] > 0, name
        assert found[name].total_groups == entry["total_groups"]
