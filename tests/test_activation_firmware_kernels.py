"""The zero-skipping fully connected kernel (firmware/kernels/ed_fully_connected_skip_zero_s8.c)
against the reference interpreter, bit for bit: on the host (portable C and the emulated DSP
build, through ctypes) and on QEMU mps2-an386, where it must also execute fewer instructions
than the dense kernel when most inputs are zero."""

from __future__ import annotations

import ctypes
import shutil

import numpy as np
import pytest

from edge_deploy.build.hostlib import build_host_kernels
from edge_deploy.build.kernel_firmware import KernelCase, _c_array, build_kernel_firmware, run_kernel_firmware
from edge_deploy.interp import ops

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")


class _Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


class _Context(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("size", ctypes.c_int32)]


class _Activation(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int32), ("max", ctypes.c_int32)]


class _FcParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("filter_offset", ctypes.c_int32),
                ("output_offset", ctypes.c_int32), ("activation", _Activation)]


class _PerChannel(ctypes.Structure):
    _fields_ = [("multiplier", ctypes.c_void_p), ("shift", ctypes.c_void_p)]


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
    params = {"input_offset": -zp, "output_offset": int(rng.integers(-128, 0)), "out_mult": mult,
              "out_shift": shift, "act_min": -128, "act_max": 127}
    expected = ops.fully_connected_s8(x, w, bias, **{**params, "out_mult": np.resize(mult, units),
                                                      "out_shift": np.resize(shift, units)})
    return {"x": x, "w": w, "bias": bias, "params": params, "expected": expected, "quant_step": 1 if per_channel else 0}


def host_skip_zero(lib, case: dict) -> np.ndarray:
    x, w, bias, p = case["x"], case["w"], case["bias"], case["params"]
    rows, depth = x.shape
    units = w.shape[0]
    out = np.zeros((rows, units), dtype=np.int8)
    scratch = np.zeros(4 * depth + 4, dtype=np.uint8)
    mult, shift = np.ascontiguousarray(p["out_mult"]), np.ascontiguousarray(p["out_shift"])
    fn = lib.ed_fully_connected_skip_zero_s8
    fn.restype = ctypes.c_int32
    status = fn(ctypes.byref(_Context(scratch.ctypes.data, scratch.size)),
                ctypes.byref(_FcParams(p["input_offset"], 0, p["output_offset"], _Activation(p["act_min"], p["act_max"]))),
                ctypes.byref(_PerChannel(mult.ctypes.data, shift.ctypes.data)), ctypes.c_int32(case["quant_step"]),
                ctypes.byref(_Dims(rows, 1, 1, depth)), ctypes.c_void_p(x.ctypes.data),
                ctypes.byref(_Dims(depth, 1, 1, units)), ctypes.c_void_p(w.ctypes.data),
                ctypes.byref(_Dims(1, 1, 1, units)), ctypes.c_void_p(bias.ctypes.data),
                ctypes.byref(_Dims(rows, 1, 1, units)), ctypes.c_void_p(out.ctypes.data))
    assert status == 0
    return out


@needs_gcc
@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_skip_zero_fc_is_bit_exact_on_the_host(path):
    lib = ctypes.CDLL(str(build_host_kernels(path)))
    shapes = [(1, 37, 5, 0.3), (2, 64, 8, 0.0), (1, 200, 11, 1.0), (3, 96, 4, 0.1), (1, 8, 1, 0.5)]
    for seed, (rows, depth, units, density) in enumerate(shapes):
        for per_channel in (True, False):
            case = fc_case(rows, depth, units, density, seed, per_channel)
            assert np.array_equal(host_skip_zero(lib, case), case["expected"]), (rows, depth, units, density)


def _skip_source(case: dict, i: int) -> str:
    x, w, p = case["x"], case["w"], case["params"]
    rows, depth = x.shape
    units = w.shape[0]
    return (
        "#include \"ed_activation.h\"\n"
        + _c_array(f"x_{i}", "int8_t", x) + _c_array(f"w_{i}", "int8_t", w)
        + _c_array(f"bias_{i}", "int32_t", case["bias"]) + _c_array(f"mult_{i}", "int32_t", p["out_mult"])
        + _c_array(f"shift_{i}", "int32_t", p["out_shift"])
        + f"static int16_t scratch_{i}[{2 * depth}];\n"
        f"static int run_case_{i}(void)\n{{\n"
        f"    const cmsis_nn_context ctx = {{scratch_{i}, sizeof(scratch_{i})}};\n"
        f"    const cmsis_nn_fc_params params = {{{p['input_offset']}, 0, {p['output_offset']}, "
        f"{{{p['act_min']}, {p['act_max']}}}}};\n"
        f"    const cmsis_nn_per_channel_quant_params quant = {{(int32_t *)mult_{i}, (int32_t *)shift_{i}}};\n"
        f"    const cmsis_nn_dims in = {{{rows}, 1, 1, {depth}}}, flt = {{{depth}, 1, 1, {units}}}, "
        f"bias_dims = {{1, 1, 1, {units}}}, out = {{{rows}, 1, 1, {units}}};\n"
        f"    return ed_fully_connected_skip_zero_s8(&ctx, &params, &quant, {case['quant_step']}, &in, x_{i}, &flt, "
        f"w_{i}, &bias_dims, bias_{i}, &out, out_{i});\n}}\n")


@pytest.mark.qemu
def test_skip_zero_fc_on_qemu_is_exact_and_cheaper_when_sparse(qemu_arm, tmp_path):
    depth, units = 512, 64  # an fc1-sized layer
    densities = (0.05, 0.2, 0.5, 1.0)
    cases, runs = [], []
    for seed, density in enumerate(densities):
        case = fc_case(1, depth, units, density, 100 + seed)
        runs.append(case)
        cases.append(KernelCase(f"dense_{density}", "fully_connected_s8",
                                {"x": case["x"], "w": case["w"], "bias": case["bias"]}, dict(case["params"]),
                                (1, units), macs=depth * units))
        cases.append(KernelCase(f"skip_{density}", "fully_connected_skip_zero", {}, {}, (1, units),
                                macs=depth * units, c_source=lambda i, case=case: _skip_source(case, i)))
    result = run_kernel_firmware(build_kernel_firmware(cases, tmp_path), cases)
    assert result.statuses == [0] * len(cases)
    for k, case in enumerate(runs):
        assert np.array_equal(result.outputs[2 * k].reshape(1, units), case["expected"])
        assert np.array_equal(result.outputs[2 * k + 1].reshape(1, units), case["expected"])
    dense, skip = result.instructions[0::2], result.instructions[1::2]
    print({d: (a, b) for d, a, b in zip(densities, dense, skip)})
    assert skip[0] < dense[0] / 3  # 5 % nonzero inputs
    assert skip[1] < dense[1]      # 20 %
