"""edge-deploy's ``ed_avgpool_s8`` and ``ed_softmax_s8`` (issue 13), called through their template
partials and compared bit for bit with the ops' int8 references: on the host (portable C and the
emulated DSP path; ED_KERNELS_SANITIZE=1 builds them with ASan + UBSan, which
test_pool_softmax_under_sanitizers does) and on QEMU mps2-an386, on the edge shapes: global pools
of MLPerf Tiny's heads, channel counts that leave 16- and 4-channel tails, padding on every side
(taps outside the input not counted), a window of more than 256 taps (past the 16-bit lanes),
activation clamps; softmax rows of one value, equal values, values whose difference to the
maximum falls below diff_min, and several rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.ops.softmax import softmax_params
from edge_deploy.testing.cases import kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from kernel_runner import SANITIZE, HostKernels

# (input NHWC, filter, stride, padding (t, b, l, r), activation clamp)
POOLS = [
    ("resnet-global", (1, 8, 8, 64), (8, 8), (8, 8), (0, 0, 0, 0), (-128, 127)),
    ("dscnn-global", (1, 25, 5, 64), (25, 5), (25, 5), (0, 0, 0, 0), (-128, 127)),
    ("padded-3x3-s2", (1, 7, 9, 21), (3, 3), (2, 2), (1, 1, 1, 1), (-100, 127)),
    ("padded-3x2", (1, 5, 6, 20), (3, 2), (1, 1), (1, 1, 0, 1), (-128, 60)),
    ("1d-window", (1, 1, 33, 3), (1, 2), (1, 2), (0, 0, 0, 0), (-128, 127)),
    ("over-256-taps", (1, 20, 20, 18), (20, 20), (20, 20), (0, 0, 0, 0), (-128, 127)),
]

# (rows x row size, beta, input scale)
SOFTMAX = [((1, 10), 1.0, 0.1), ((1, 12), 1.0, 0.05), ((4, 10), 1.0, 0.3), ((1, 100), 1.0, 0.02),
           ((3, 7), 0.5, 1.0), ((1, 1), 1.0, 0.1), ((2, 33), 2.0, 0.007)]


def _cases(make, rng):
    cases = []
    for name, shape, filter_hw, stride, padding, act in POOLS:
        x = rng.integers(-128, 128, shape, dtype=np.int8)
        params = {"filter_hw": filter_hw, "stride": stride, "padding": padding, "act_min": act[0], "act_max": act[1]}
        cases.append(make(f"avgpool-{name}", "ed_avgpool_s8", "avg_pool2d", [x], params, {"activation": "none"}))
    for i, (shape, beta, scale) in enumerate(SOFTMAX):
        x = rng.integers(-128, 128, shape, dtype=np.int8)
        if shape == (3, 7):
            x[0], x[1] = 127, -128  # equal values; and (row 2) differences past diff_min at this scale
        mult, shift, diff_min = softmax_params(beta, scale)
        params = {"input_mult": mult, "input_left_shift": shift, "diff_min": diff_min}
        cases.append(make(f"softmax-{i}", "ed_softmax_s8", "softmax", [x], params, {"beta": beta}))
    return cases


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")
@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_pool_softmax_match_reference_on_the_host(path):
    kernels = HostKernels(path)
    cases = _cases(lambda name, kernel, op, inputs, params, attrs: kernels.case(kernel, op, inputs, params,
                                                                                  attrs=attrs),
                   np.random.default_rng(21))
    run = kernels.run(cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=f"{path}: {case.name}")


def test_softmax_table_leaves_out_what_tflite_leaves_out():
    """At a large input scale most differences fall below diff_min: their entries are 0, and
    the first entry is exp(0), 1.0 in Q0.31."""
    mult, shift, diff_min = softmax_params(1.0, 1.0)
    case = kernel_case("table", "ed_softmax_s8", "softmax", [np.zeros((1, 4), np.int8)],
                       {"input_mult": mult, "input_left_shift": shift, "diff_min": diff_min}, attrs={"beta": 1.0})
    table = case.kernel.context(case.call).arrays[0].values
    assert table[0] == 2**31 - 1 and -diff_min < 255
    assert (table[-diff_min + 1:] == 0).all() and (table[:-diff_min + 1] > 0).all()


@pytest.mark.qemu
def test_pool_softmax_match_reference_on_cortex_m4(tmp_path):
    cases = _cases(lambda name, kernel, op, inputs, params, attrs: kernel_case(name, kernel, op, inputs, params,
                                                                               attrs=attrs),
                   np.random.default_rng(22))
    run = run_qemu(build_qemu(cases, tmp_path, path="dsp"), cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=case.name)


@pytest.mark.slow
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")
def test_pool_softmax_under_sanitizers():
    """The host tests again with ASan + UBSan builds, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", "on_the_host",
                             __file__], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
