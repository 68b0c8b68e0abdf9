"""The calls edge-deploy generates for issue 12's CMSIS-NN functions (arm_transpose_s8,
arm_concatenation_s8_y, arm_maximum_s8 / arm_minimum_s8, arm_batch_matmul_s8, and the broadcast
loops of arm_elementwise_add_s8 / arm_elementwise_mul_s8) compiled against a real upstream
CMSIS-NN checkout instead of edge-deploy's kernels give the reference's results bit for bit, so
the API we call is upstream's. Needs EDGE_DEPLOY_CMSIS_NN (a CMSIS-NN v7.0.0 or later checkout)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.kernels import get_kernel
from edge_deploy.paths import resource_dir
from edge_deploy.testing.harness import _parse_outputs, cases_source, host_cc
from edge_deploy.testing.random_layers import random_case

KERNELS = ("arm_transpose_s8", "arm_concatenation_s8_y", "arm_maximum_s8", "arm_minimum_s8", "arm_batch_matmul_s8",
           "arm_elementwise_add_s8", "arm_elementwise_mul_s8")
FOLDERS = ("TransposeFunctions", "ConcatenationFunctions", "BasicMathFunctions", "FullyConnectedFunctions",
           "NNSupportFunctions")


def _upstream() -> Path:
    root = os.environ.get("EDGE_DEPLOY_CMSIS_NN")
    if not root or not (Path(root) / "Include" / "arm_nnfunctions.h").is_file():
        pytest.skip("EDGE_DEPLOY_CMSIS_NN does not name an upstream CMSIS-NN checkout")
    if "arm_batch_matmul_s8" not in (Path(root) / "Include" / "arm_nnfunctions.h").read_text():
        pytest.skip(f"{root} is older than CMSIS-NN v7.0.0 (no arm_batch_matmul_s8)")
    return Path(root)


def _sources(root: Path) -> list[str]:
    """The int8 sources of the folders these functions live in (no float, int16, int4 or LSTM code)."""
    skip = ("f16", "f32", "s16", "s4", "lstm")
    return [str(p) for folder in FOLDERS for p in sorted((root / "Source" / folder).glob("*.c"))
            if not any(t in p.stem for t in skip)]


def test_generated_calls_match_upstream_cmsis_nn(tmp_path):
    root = _upstream()
    rng = np.random.default_rng(1)
    cases = [random_case(rng, k, layer, name=f"{k}-{i}") for k in KERNELS
             for i, layer in enumerate(get_kernel(k).calibration)]
    (tmp_path / "cases.c").write_text(cases_source(cases, target="host"))
    firmware = resource_dir("firmware")
    # Upstream's headers first; edge-deploy's only for the harness's profiling and runtime headers.
    command = [host_cc(), "-std=gnu11", "-O1", "-w", f"-I{root / 'Include'}", f"-I{firmware / 'include'}",
               f"-I{firmware / 'runtime'}", str(tmp_path / "cases.c"), *_sources(root), "-o", str(tmp_path / "cases"),
               "-Wl,--gc-sections", "-ffunction-sections", "-Wl,--unresolved-symbols=ignore-in-object-files"]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(tmp_path / "cases")], capture_output=True, text=True, timeout=120)
    outputs, statuses = _parse_outputs(run.stdout, cases, "the upstream build")
    assert statuses == [0] * len(cases)
    assert [c.name for c, out in zip(cases, outputs) if not np.array_equal(out, c.expected)] == []
