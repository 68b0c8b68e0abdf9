"""The zero-skipping fully connected kernel (firmware/kernels/ed_fully_connected_skip_zero_s8.c)
against the reference, bit for bit: on the host (portable C and the emulated DSP build, each call
through its template partial) and on QEMU mps2-an386, where it must also execute fewer
instructions than the dense kernel when most inputs are zero."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge_deploy.ops.fully_connected import fully_connected_s8
from edge_deploy.testing.cases import kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from kernel_runner import HostKernels

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")


def fc_case(rows: int, depth: int, units: int, density: float, seed: int, per_channel: bool = True) -> dict:
    """Random int8 FC layer whose input is ``density`` nonzero (the rest at the zero point)."""
    rng = np.random.default_rng(seed)
    zp = int(rng.integers(-128, -100))
    x = rng.integers(zp + 1, 128, size=(rows, depth)).astype(np.int8)
    x[rng.random((rows, depth)) >= density] = zp
    w = rng.integers(-127, 128, size=(units, depth)).astype(np.int8)
    bias = rng.integers(-5000, 5000, size=units).astype(np.int32)
    count = units if per_channel else 1
    mult = rng.integers(1 << 29, (1 << 31) - 1, size=count).astype(np.int32)
    shift = rng.integers(-12, -6, size=count).astype(np.int32)
    params = {"input_offset": -zp, "output_offset": int(rng.integers(-128, 0)),
              "out_mult": mult if per_channel else int(mult[0]), "out_shift": shift if per_channel else int(shift[0]),
              "act_min": -128, "act_max": 127}
    expected = fully_connected_s8(x, w, bias, **params)
    return {"x": x, "w": w, "bias": bias, "params": params, "expected": expected, "density": density}


def skip_zero_case(name: str, case: dict):
    return kernel_case(name, "ed_fully_connected_skip_zero_s8", "fully_connected", [case["x"]], case["params"],
                       weights=case["w"], bias=case["bias"], attrs={"activation": "none"},
                       input_density=max(case["density"], 1e-3))


@needs_gcc
@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_skip_zero_fc_is_bit_exact_on_the_host(path):
    kernels = HostKernels(path)
    shapes = [(1, 37, 5, 0.3), (2, 64, 8, 0.0), (1, 200, 11, 1.0), (3, 96, 4, 0.1), (1, 8, 1, 0.5)]
    cases, wanted = [], []
    for seed, (rows, depth, units, density) in enumerate(shapes):
        for per_channel in (True, False):
            case = fc_case(rows, depth, units, density, seed, per_channel)
            cases.append(skip_zero_case(f"{rows}x{depth}x{units}-{density}-{per_channel}", case))
            wanted.append(case["expected"])
    run = kernels.run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out, want in zip(cases, run.outputs, wanted):
        assert np.array_equal(out, want), case.name


@pytest.mark.qemu
def test_skip_zero_fc_on_qemu_is_exact_and_cheaper_when_sparse(qemu_arm, tmp_path):
    depth, units = 512, 64  # an fc1-sized layer
    densities = (0.05, 0.2, 0.5, 1.0)
    cases, runs = [], []
    for seed, density in enumerate(densities):
        case = fc_case(1, depth, units, density, 100 + seed)
        runs.append(case)
        cases.append(kernel_case(f"dense_{density}", "arm_fully_connected_per_channel_s8", "fully_connected",
                                 [case["x"]], case["params"], weights=case["w"], bias=case["bias"]))
        cases.append(skip_zero_case(f"skip_{density}", case))
    result = run_qemu(build_qemu(cases, tmp_path), cases)
    assert result.statuses == [0] * len(cases)
    for k, case in enumerate(runs):
        assert np.array_equal(result.outputs[2 * k].reshape(1, units), case["expected"])
        assert np.array_equal(result.outputs[2 * k + 1].reshape(1, units), case["expected"])
    dense, skip = result.instructions[0::2], result.instructions[1::2]
    print({d: (a, b) for d, a, b in zip(densities, dense, skip)})
    assert skip[0] < dense[0] / 3  # 5 % nonzero inputs
    assert skip[1] < dense[1]      # 20 %
