"""The build's use of the sparse kernels: group sparsity detected from the int8 weights, a
dense-or-sparse choice per layer recorded in report.json, flash that shrinks, and a Scalpel-pruned
small TICNN that runs on QEMU with 0 mismatches against the reference interpreter."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from codegen_models import TICNN_PARAMS, ticnn_inputs, tiny_graph

from edge_deploy.build.firmware_build import build_graph
from edge_deploy.cli import main
from edge_deploy.codegen import plan_model, render_model
from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import QuantParams
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
from edge_deploy.ops import GraphBuilder

WEIGHTED = ("conv2d", "fully_connected")


def _choice(kind: str, rows: np.ndarray, sparse: str, zero_point: int = 0):
    """The kernel chosen for one int8 conv (3 taps, 32 positions) or fully connected layer with
    weight ``rows`` (one per output), Winograd off, and the layer's call."""
    q = lambda s, z: QuantParams([s], [z])  # noqa: E731
    units = rows.shape[0]
    b = GraphBuilder("one", "int8")
    w_quant = QuantParams(np.full(units, 0.01, np.float32), np.full(units, zero_point), 0)
    if kind == "conv2d":
        cin = rows.shape[1] // 3
        x = b.input("x", (1, 1, 34, cin), q(0.1, 0))
        y = b.conv2d(x, "layer", rows.reshape(units, 1, 3, cin), quant=q(0.2, 0), w_quant=w_quant)
    else:
        x = b.input("x", (1, rows.shape[1]), q(0.1, 0))
        y = b.fully_connected(x, "layer", rows, quant=q(0.2, 0), w_quant=w_quant)
    graph = b.finish([y])
    policy = KernelPolicy.from_options(sparse=sparse, winograd="off")
    chosen = choose_kernels(graph, policy)[0]
    return chosen.choice, chosen.call


def _scalpel_ticnn(sparsities: dict[str, float]):
    """A small TICNN with Scalpel's group-of-4 masks applied in kernel order, lowered and
    quantized with real calibration windows."""
    from edge_deploy.data import load_windows
    from edge_deploy.models import build_model
    from edge_deploy.quantize.lower import lower_module
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_graph
    from edge_deploy.slim.scalpel import prunable_layers, prune_layers

    torch.manual_seed(0)
    model = build_model("ticnn", **TICNN_PARAMS).eval()
    layers = prunable_layers(model, torch.zeros(1, 1, 2048))
    names = [layer.name for layer in layers]
    prune_layers(model, layers, {names[i]: s for i, s in sparsities.items()}, 4)
    x, _, _ = load_windows(None, "train", window=2048, stride=512)
    graph = lower_module(model, (1, 1, 2048), name="ticnn_scalpel")
    return quantize_graph(graph, to_ir_layout(x[:64]))


@pytest.fixture(scope="module")
def pruned_graph():
    # Layers: 3 convs then 2 fully connected; the second conv stays dense.
    return _scalpel_ticnn({0: 0.8, 2: 0.85, 3: 0.9, 4: 0.5})


def test_choice_follows_the_weights():
    rng = np.random.default_rng(0)
    rows = rng.integers(-127, 128, (64, 192), dtype=np.int8)
    dense, _ = _choice("conv2d", rows, "auto")
    assert get_kernel(dense.kernel).family is None
    pruned = rows.copy()
    pruned.reshape(64, 48, 4)[rng.random((64, 48)) < 0.8] = 0
    sparse, call = _choice("conv2d", pruned, "auto")
    assert sparse.kernel == "ed_convolve_group_sparse_s8"
    direct = next(alt for alt in sparse.alternatives if alt.kernel == dense.kernel)
    assert sparse.cycles < direct.cycles
    stored = get_kernel("ed_convolve_group_sparse_s8").weight_bytes(call)
    assert stored < 0.35 * get_kernel("arm_convolve_s8").weight_bytes(call)
    assert _choice("conv2d", pruned, "off")[0].kernel == dense.kernel
    assert _choice("conv2d", rows, "force")[0].kernel in ("ed_convolve_group_sparse_s8", "ed_convolve_csr_s8")
    # Asymmetric conv weights never reach the kernel choice: the op refuses them.
    with pytest.raises(EdgeDeployError, match="symmetric"):
        _choice("conv2d", pruned, "auto", zero_point=3)
    # One weight left in every other group: in a fully connected layer the one-index-per-weight
    # kernel beats groups of 4; in a conv the group kernel still wins (its per-output and
    # column costs are lower than the CSR kernel's).
    scattered = rows.copy()
    scattered.reshape(64, 48, 4)[:, :, 1:] = 0
    scattered.reshape(64, 48, 4)[:, ::2, 0] |= 1
    scattered.reshape(64, 48, 4)[:, 1::2, 0] = 0
    fc = _choice("fully_connected", scattered, "auto")[0]
    cycles = {alt.kernel: alt.cycles for alt in [fc, *fc.alternatives]}
    assert cycles["ed_fully_connected_csr_s8"] < cycles["ed_fully_connected_group_sparse_s8"]
    assert _choice("conv2d", scattered, "auto")[0].kernel == "ed_convolve_group_sparse_s8"
    with pytest.raises(EdgeDeployError, match="--sparse"):
        _choice("conv2d", rows, "sometimes")


def test_pruned_layers_go_sparse_and_the_dense_one_stays(pruned_graph):
    model = plan_model(pruned_graph, sparse="auto")
    weighted = [layer for layer in model.layers if layer.op.kind in WEIGHTED]
    assert [layer.op.kind for layer in weighted] == ["conv2d"] * 3 + ["fully_connected"] * 2
    # fc2 (32 -> 10, half its groups zero) stays dense: there the group-sparse kernel runs fewer
    # instructions but more modelled cycles (2,116 against 2,056 measured on QEMU), the unit the
    # choice is made in.
    assert [layer.spec.family for layer in weighted] == ["sparse", None, "sparse", "sparse", None]
    # A group-sparse conv takes the max pool after it in; the dense one keeps its own pool.
    assert weighted[0].kernel == "ed_convolve_group_sparse_maxpool2_s8" and weighted[1].spec.family is None
    assert weighted[0].fused and not weighted[1].fused
    assert weighted[3].kernel == "ed_fully_connected_group_sparse_s8"
    # The group sparsity was read from the int8 weights: about what Scalpel zeroed in float.
    groups = weighted[2].call.weight_rows.reshape(weighted[2].call.weight_rows.shape[0], -1, 4)
    assert (groups == 0).all(axis=2).mean() == pytest.approx(0.85, abs=0.02)
    assert not (weighted[1].call.weight_rows.reshape(-1, 4) == 0).all(axis=1).any()
    files, context = render_model(model, "mps2-an386")
    assert '#include "ed_sparse.h"' in files["model.c"] and "l00_conv1_pool1_weight_values" in files["model.c"]
    assert "l00_conv1_pool1_weights[" not in files["model.c"]
    assert re.search(r"l01_conv2_\w*weights\w*\[", files["model.c"])
    dense_files, dense_context = render_model(plan_model(pruned_graph, sparse="off"), "mps2-an386")
    assert "ed_sparse" not in dense_files["model.c"]
    assert context["weights_bytes"] < 0.6 * dense_context["weights_bytes"]


@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["simd", "portable"])
def test_scalpel_pruned_ticnn_runs_with_no_mismatch(pruned_graph, kernels, qemu_arm, tmp_path, capsys):
    out = tmp_path / "build"
    result = build_graph(pruned_graph, "mps2-an386", out, kernels=kernels, sparse="auto")
    layers = [layer for layer in result.report["layers"] if layer["op"] in WEIGHTED]
    # The dense conv: the Winograd kernel (its max pool fused) on the SIMD path (auto), a dense
    # kernel on the portable one; fc2 dense.
    kinds = [layer["kernel"] for layer in layers]
    assert kinds[0] == kinds[2] == "ed_convolve_group_sparse_maxpool2_s8"
    assert kinds[3] == "ed_fully_connected_group_sparse_s8"
    assert get_kernel(kinds[1]).family == ("winograd" if kernels == "simd" else None)
    assert get_kernel(kinds[4]).family is None
    assert all(layer["kernel_choice"]["reason"] for layer in layers)
    batch = ticnn_inputs(pruned_graph, 3)
    np.save(tmp_path / "x.npy", batch)
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    check = json.loads((out / "check.json").read_text())
    assert check["n"] == 3 and check["mismatches"] == 0


@pytest.mark.qemu
def test_forced_unstructured_and_dense_builds_agree(qemu_arm, tmp_path, capsys):
    """--sparse force on a model with no zeros still runs bit-exact (sparse kernels with nothing
    pruned), and the report says why each layer got its kernel."""
    graph = tiny_graph(seed=4)
    forced = build_graph(graph, "mps2-an386", tmp_path / "forced", sparse="force")
    kernels = {layer["op"]: layer["kernel"] for layer in forced.report["layers"]}
    assert kernels["conv2d"].startswith("ed_convolve_") and kernels["fully_connected"].startswith("ed_fully_")
    assert forced.report["sparse"] == "force"
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(-128, 128, (4, 9, 11, 3), dtype=np.int8))
    status = main(["run", str(tmp_path / "forced"), "--inputs", str(tmp_path / "x.npy"), "--out",
                   str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    auto = build_graph(graph, "mps2-an386", tmp_path / "auto", sparse="auto")
    assert all(get_kernel(layer["kernel"]).family is None for layer in auto.report["layers"]
               if layer["op"] in WEIGHTED)


def test_sparse_force_with_upstream_cmsis_nn_is_refused(tmp_path):
    with pytest.raises(EdgeDeployError, match="--sparse force"):
        build_graph(tiny_graph(), "mps2-an386", tmp_path / "b", cmsis_nn=tmp_path, sparse="force")
