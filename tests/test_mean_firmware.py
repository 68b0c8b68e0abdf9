"""MEAN in the firmware: edge-deploy's ed_mean_s8 (CMSIS-NN has none), bit-exact with the
reference interpreter (litert's arithmetic) on the host under sanitizers, both kernel paths, and
on QEMU over the serial protocol, also beside upstream CMSIS-NN (--cmsis-nn)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from codegen_models import mean_graph, random_inputs

from edge_deploy.build.firmware_build import build_graph
from edge_deploy.build.device_run import run_batch
from edge_deploy.testing.host_model import build_host_model, run_host_model
from edge_deploy.codegen import plan_model, write_project
from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")

# Global average pooling as Keras converts it, and the other axis sets TFLite allows: keep_dims
# both ways, a scale ratio above 1 (left shift), zero points at the limits, a large count.
CASES = {
    "gap": dict(axis=(1, 2)),
    "gap_keep": dict(axis=(1, 2), keep_dims=True, in_zero_point=127, conv=False),
    "channels": dict(axis=(3,), keep_dims=True, conv=False, out_scale=0.2, out_zero_point=-128),
    "width_wide": dict(axis=(2,), shape=(1, 3, 40, 5), conv=False, out_scale=0.001, out_zero_point=127),
    "all_but_batch": dict(axis=(1, 2, 3), shape=(1, 16, 16, 9), conv=False, out_scale=0.004),
    "negative_axes": dict(axis=(-3, -2), shape=(1, 5, 4, 3), conv=False, keep_dims=True),
}


def _graph(case: str):
    return mean_graph(seed=len(case), name=f"mean_{case}", **CASES[case])


@needs_gcc
@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_mean_on_the_host_under_sanitizers(path, tmp_path):
    # ed_mean_s8 has one path; the DSP build checks it beside the SIMD conv and FC kernels.
    for case in CASES if path == "portable" else ("gap", "all_but_batch"):
        graph = _graph(case)
        src = tmp_path / case / "src"
        project = write_project(plan_model(graph), "mps2-an386", src)
        assert [layer.kernel for layer in project.model.layers if layer.op.kind == "mean"] == ["ed_mean_s8"]
        exe = build_host_model(src, tmp_path / case / "model_host", path=path, sanitize=True)
        batch = random_inputs(graph, 5, seed=3)
        batch[0] = -128
        batch[1] = 127
        out = run_host_model(exe, batch, graph.tensor(graph.outputs[0]).shape[1:])
        assert np.array_equal(out, run(graph, batch)), case


def test_mean_on_the_cortex_m4(qemu_arm, tmp_path):
    for case in ("gap", "channels", "width_wide", "all_but_batch"):
        graph = _graph(case)
        result = build_graph(graph, "mps2-an386", tmp_path / case)
        kernels = {layer["name"]: layer["kernel"] for layer in result.report["layers"]}
        assert kernels["mean"] == "ed_mean_s8"
        batch = random_inputs(graph, 4, seed=9)
        batch[0] = 127
        outputs = run_batch(tmp_path / case, batch).outputs
        assert np.array_equal(outputs.reshape(len(batch), -1), run(graph, batch).reshape(len(batch), -1)), case


def test_mean_with_upstream_cmsis_nn_runs_on_edge_deploys_kernel(qemu_arm, tmp_path):
    """Upstream CMSIS-NN has no MEAN: with --cmsis-nn the layer keeps ed_mean_s8 (compiled from
    edge-deploy's sources beside the checkout's), says why, and the firmware stays bit-exact.
    The checkout is a stand-in laid out as upstream's, made of edge-deploy's arm_* sources."""
    from test_build_firmware import _cmsis_nn_layout

    checkout = _cmsis_nn_layout(tmp_path / "CMSIS-NN")
    graph = _graph("gap")
    result = build_graph(graph, "mps2-an386", tmp_path / "out", cmsis_nn=checkout)
    layers = {layer["name"]: layer for layer in result.report["layers"]}
    assert layers["mean"]["kernel"] == "ed_mean_s8"
    assert "upstream CMSIS-NN cannot run this layer" in layers["mean"]["kernel_choice"]["reason"]
    assert result.report["cmsis_nn"]["fallback_layers"] == [layers["mean"]["c_function"]]
    assert result.report["kernel_sources"]["kernels"]["sources"] == ["ed_mean_s8.c"]
    batch = random_inputs(graph, 4, seed=9)
    assert np.array_equal(run_batch(tmp_path / "out", batch).outputs.reshape(4, -1), run(graph, batch).reshape(4, -1))
    fake = tmp_path / "not-a-checkout"
    (fake / "Include").mkdir(parents=True)
    with pytest.raises(EdgeDeployError, match="is not a CMSIS-NN checkout"):
        build_graph(graph, "mps2-an386", tmp_path / "out2", cmsis_nn=fake)
    assert not (tmp_path / "out2").exists()
