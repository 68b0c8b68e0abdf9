"""MEAN in the firmware: edge-deploy's ed_mean_s8 (CMSIS-NN has none), bit-exact with the
reference interpreter (litert's arithmetic) on the host under sanitizers, both kernel paths, and
on QEMU over the serial protocol; and a clear refusal with --cmsis-nn."""

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


def test_mean_with_upstream_cmsis_nn_is_refused_before_compiling(tmp_path):
    fake = tmp_path / "CMSIS-NN"
    (fake / "Include").mkdir(parents=True)
    (fake / "Include" / "arm_nnfunctions.h").write_text("/* placeholder: the refusal comes before any compile */\n")
    (fake / "Source").mkdir()
    with pytest.raises(EdgeDeployError, match=r"'mean' \(mean\) needs edge-deploy's own kernel \(ed_mean_s8\)") as info:
        build_graph(_graph("gap"), "mps2-an386", tmp_path / "out", cmsis_nn=fake)
    assert "without --cmsis-nn" in info.value.hint
    assert not (tmp_path / "out").exists()
