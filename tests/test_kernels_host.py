"""edge-deploy's s8 kernels (firmware/kernels/) built for the host and compared, bit for bit,
with the ops' int8 references (edge_deploy.ops) on edge cases, each called through its template
partial (tests/kernel_runner.py).

Both kernel paths run here: the portable C path and the DSP SIMD path with its instructions
emulated in C. With ED_KERNELS_SANITIZE=1 everything is built with AddressSanitizer and
UndefinedBehaviorSanitizer (test_kernels_under_sanitizers runs this file that way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.ops.add import add_s8
from edge_deploy.ops.avg_pool2d import avg_pool_s8
from edge_deploy.ops.conv2d import conv2d_s8
from edge_deploy.ops.depthwise_conv2d import depthwise_conv2d_s8
from edge_deploy.ops.fully_connected import fully_connected_s8
from edge_deploy.ops.max_pool2d import max_pool_s8
from edge_deploy.ops.pad import pad_s8
from edge_deploy.ops.softmax import softmax_s8
from edge_deploy.ops.softmax import softmax_params
from edge_deploy.numerics.fixedpoint import quantize_multiplier, quantize_multiplier_smaller_than_one

from kernel_runner import SANITIZE, HostKernels, random_requant

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")




# (input NHWC, filter OHW(I from input), stride (h, w), padding (t, b, l, r), dilation, offsets)
CONV_CASES = [
    pytest.param((1, 1, 256, 1), (16, 1, 64), (1, 8), (0, 0, 28, 28), (1, 1), (5, -3), id="ticnn-wide-first"),
    pytest.param((1, 1, 33, 16), (32, 1, 3), (1, 1), (0, 0, 1, 1), (1, 1), (128, -128), id="3tap-offsets-max"),
    pytest.param((1, 1, 17, 5), (7, 1, 3), (1, 2), (0, 0, 1, 0), (1, 1), (-127, 127), id="odd-channels-stride"),
    pytest.param((2, 1, 9, 3), (3, 1, 5), (1, 1), (0, 0, 2, 2), (1, 2), (0, 0), id="batch2-dilation"),
    pytest.param((1, 6, 7, 3), (5, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), (17, 9), id="2d-3x3-stride2"),
    pytest.param((1, 5, 5, 8), (4, 3, 3), (1, 1), (2, 0, 0, 2), (2, 1), (-5, 3), id="2d-asym-pad-dilation"),
    pytest.param((1, 4, 4, 4), (1, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (1, 2), id="1x1-single-out"),
    pytest.param((1, 1, 11, 1), (3, 1, 11), (1, 1), (0, 0, 0, 0), (1, 1), (3, 1), id="k-not-multiple-of-4"),
]


@pytest.mark.parametrize("in_shape, flt, stride, padding, dilation, offsets", CONV_CASES)
def test_convolve_matches_reference(kernels, in_shape, flt, stride, padding, dilation, offsets):
    rng = np.random.default_rng(hash((in_shape, flt)) % 2**32)
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, flt + (in_shape[3],), dtype=np.int8)
    bias = rng.integers(-20000, 20000, flt[0]).astype(np.int32)
    mult, shift = random_requant(rng, flt[0], (-10, 1))
    args = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift, stride=stride,
                padding=padding, dilation=dilation, act_min=-128, act_max=127)
    expected = conv2d_s8(x, w, bias, **args)
    np.testing.assert_array_equal(kernels.conv2d_s8(x, w, bias, **args), expected)


def test_convolve_saturates_and_clamps_relu(kernels):
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (1, 1, 20, 6), dtype=np.int8)
    w = rng.integers(-127, 128, (5, 1, 3, 6), dtype=np.int8)
    mult = np.full(5, (1 << 31) - 1, dtype=np.int32)
    shift = np.array([4, 2, 0, -1, 3], dtype=np.int32)  # positive shifts: outputs saturate
    args = dict(input_offset=128, output_offset=-20, out_mult=mult, out_shift=shift, padding=(0, 0, 1, 1),
                act_min=-20, act_max=100)  # ReLU-like clamp above the output zero point
    expected = conv2d_s8(x, w, None, **args)
    assert (expected == -20).any() and (expected == 100).any()
    np.testing.assert_array_equal(kernels.conv2d_s8(x, w, None, **args), expected)


def test_convolve_random_shapes(kernels):
    rng = np.random.default_rng(7)
    cases = []
    for i in range(60):
        cin, cout = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        x = rng.integers(-128, 128, (1, int(rng.integers(kh, 7)), int(rng.integers(kw, 14)), cin), dtype=np.int8)
        w = rng.integers(-127, 128, (cout, kh, kw, cin), dtype=np.int8)
        bias = rng.integers(-3000, 3000, cout).astype(np.int32)
        mult, shift = random_requant(rng, cout, (-10, 1))
        args = dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
                    out_mult=mult, out_shift=shift, stride=(int(rng.integers(1, 3)), int(rng.integers(1, 4))),
                    padding=tuple(int(v) for v in rng.integers(0, 2, 4)), dilation=(1, int(rng.integers(1, 3))))
        try:
            cases.append(kernels.case("arm_convolve_s8", "conv2d", [x], args, weights=w, bias=bias))
        except ValueError:
            continue  # window larger than the padded input
    run = kernels.run(cases)  # all at once: one build
    assert len(cases) > 40 and run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        np.testing.assert_array_equal(out, case.expected)


@pytest.mark.parametrize("cout", [6, 70])  # 70: more channels than the kernel's prepared table
def test_convolve_requantization_extremes(kernels, kernels_single_rounding, cout):
    """The 64-bit fast requantization (right shifts 1..31, output offset folded in up to 23) and
    its fallbacks, on accumulators across the whole int32 range: bias carries them, the 1x1
    weights are zero or one."""
    rng = np.random.default_rng(cout)
    x = rng.integers(-128, 128, (1, 1, 9, 4), dtype=np.int8)
    w = rng.integers(0, 2, (cout, 1, 1, 4), dtype=np.int8)
    bias = np.concatenate([[np.iinfo(np.int32).min + 1024, np.iinfo(np.int32).max - 1024, 0, -1, 1 << 30, -(1 << 30)],
                           rng.integers(-(1 << 31) + 1024, (1 << 31) - 1024, cout)])[:cout].astype(np.int32)
    shift = np.resize(np.array([-1, -2, -22, -23, -24, -31, 0, 1, -9, -13], dtype=np.int32), cout)
    mult = rng.integers(0, (1 << 31) - 1, cout).astype(np.int32)
    # Channels 0-5 see exactly their bias (zero weights): two negative ties that round away from
    # zero (acc * 2^30 then shifts 1 and 5), the largest accumulators where the folded offset
    # would overflow at shift -25, and multipliers 0 and 2^31 - 1.
    w[:6] = 0
    bias[:6] = [-3, -33, (1 << 31) - 1024, -(1 << 31) + 1024, 12345, -12345]
    shift[:6] = [-1, -5, -25, -25, -3, -3]
    mult[:6] = [1 << 30, 1 << 30, (1 << 31) - 1, (1 << 31) - 1, 0, (1 << 31) - 1]
    for out_offset, act in ((-128, (-128, 127)), (127, (-128, 127)), (-5, (-5, 60))):
        args = dict(input_offset=128, output_offset=out_offset, out_mult=mult, out_shift=shift,
                    act_min=act[0], act_max=act[1])
        np.testing.assert_array_equal(kernels.conv2d_s8(x, w, bias, **args), conv2d_s8(x, w, bias, **args))
        single = conv2d_s8(x, w, bias, rounding="single", **args)
        np.testing.assert_array_equal(kernels_single_rounding.conv2d_s8(x, w, bias, **args), single)


@pytest.mark.parametrize("act", [(-128, 127), (-5, 60), (-128, -100)])
def test_convolve_fast_block_clamps(kernels, act):
    """Every channel on the fast requantization and k_total % 4 == 0: the branch-free block path
    that packs four outputs and clamps them bytewise (an odd channel count leaves one to the
    general path)."""
    rng = np.random.default_rng(act[0] + 1000)
    x = rng.integers(-128, 128, (1, 1, 21, 8), dtype=np.int8)
    w = rng.integers(-127, 128, (9, 1, 3, 8), dtype=np.int8)
    bias = rng.integers(-300000, 300000, 9).astype(np.int32)
    mult, shift = random_requant(rng, 9, (-12, -5))
    args = dict(input_offset=-3, output_offset=0, out_mult=mult, out_shift=shift, padding=(0, 0, 1, 1),
                act_min=act[0], act_max=act[1])
    expected = conv2d_s8(x, w, bias, **args)
    assert (expected == act[0]).any() and (expected == act[1]).any()
    np.testing.assert_array_equal(kernels.conv2d_s8(x, w, bias, **args), expected)


def test_convolve_single_rounding(kernels_single_rounding):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 1, 40, 9), dtype=np.int8)
    w = rng.integers(-127, 128, (6, 1, 3, 9), dtype=np.int8)
    mult, shift = random_requant(rng, 6, (-9, -5))
    args = dict(input_offset=7, output_offset=-4, out_mult=mult, out_shift=shift, padding=(0, 0, 1, 1))
    single = conv2d_s8(x, w, None, rounding="single", **args)
    double = conv2d_s8(x, w, None, rounding="double", **args)
    assert not np.array_equal(single, double)  # the case tells the two conventions apart
    np.testing.assert_array_equal(kernels_single_rounding.conv2d_s8(x, w, None, **args), single)


@pytest.mark.parametrize("in_shape, kernel, mult_ch, stride, padding", [
    ((1, 1, 30, 8), (1, 3), 1, (1, 1), (0, 0, 1, 1)),
    ((1, 5, 6, 5), (3, 3), 1, (2, 1), (1, 1, 1, 1)),
    ((1, 4, 4, 3), (3, 3), 2, (1, 1), (1, 1, 1, 1)),
    ((2, 7, 3, 12), (2, 3), 1, (1, 2), (0, 1, 2, 0)),
])
def test_depthwise_matches_reference(kernels, in_shape, kernel, mult_ch, stride, padding):
    rng = np.random.default_rng(in_shape[3] * 31 + mult_ch)
    cout = in_shape[3] * mult_ch
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, (1,) + kernel + (cout,), dtype=np.int8)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    mult, shift = random_requant(rng, cout, (-10, 1))
    args = dict(input_offset=128, output_offset=-128, out_mult=mult, out_shift=shift, stride=stride,
                padding=padding, act_min=-100, act_max=127)
    expected = depthwise_conv2d_s8(x, w, bias, **args)
    np.testing.assert_array_equal(kernels.depthwise_conv2d_s8(x, w, bias, **args), expected)


@pytest.mark.parametrize("rows, depth, units, per_channel, filter_offset", [
    (1, 64, 100, True, 0), (1, 100, 10, False, 0), (3, 13, 7, True, 0), (2, 9, 5, False, 3), (1, 1, 1, True, 0),
    (1, 448, 100, True, 0), (2, 36, 6, True, 0), (1, 20, 4, False, 2),  # TICNN fc1; 4-row blocks and remainders
])
def test_fully_connected_matches_reference(kernels, rows, depth, units, per_channel, filter_offset):
    rng = np.random.default_rng(depth * 7 + units)
    x = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    bias = rng.integers(-9000, 9000, units).astype(np.int32)
    if per_channel:
        mult, shift = random_requant(rng, units, (-10, 1))
    else:
        mult, shift = quantize_multiplier(0.0021)
    args = dict(input_offset=-127, output_offset=127, out_mult=mult, out_shift=shift,
                filter_offset=filter_offset, act_min=-128, act_max=127)
    expected = fully_connected_s8(x, w, bias, **args)
    np.testing.assert_array_equal(kernels.fully_connected_s8(x, w, bias, **args), expected)


POOL_CASES = [
    ((1, 1, 256, 16), (1, 2), (1, 2), (0, 0, 0, 0), (-128, 127)),
    ((1, 1, 31, 7), (1, 3), (1, 2), (0, 0, 1, 1), (-128, 127)),
    ((2, 5, 6, 12), (3, 3), (2, 2), (1, 1, 1, 1), (-10, 90)),
    ((1, 1, 300, 5), (1, 300), (1, 1), (0, 0, 0, 0), (-128, 127)),  # more than 256 taps
    ((1, 1, 64, 12), (1, 2), (1, 2), (0, 0, 0, 0), (-20, 127)),  # two-tap path with a ReLU floor
    ((1, 1, 64, 12), (1, 2), (1, 2), (0, 0, 0, 0), (-128, 50)),  # two-tap shape, clamped maximum
]


@pytest.mark.parametrize("in_shape, window, stride, padding, act", POOL_CASES)
def test_pools_match_reference(kernels, in_shape, window, stride, padding, act):
    rng = np.random.default_rng(in_shape[2])
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    if in_shape[2] == 300:
        x[..., 0] = 127  # the 16-bit lane limit: a full window of maxima
        x[..., 1] = -128
    args = dict(filter_hw=window, stride=stride, padding=padding, act_min=act[0], act_max=act[1])
    np.testing.assert_array_equal(kernels.max_pool_s8(x, **args), max_pool_s8(x, **args))
    np.testing.assert_array_equal(kernels.avg_pool_s8(x, **args), avg_pool_s8(x, **args))


@pytest.mark.parametrize("size", [1, 7, 64, 203])
def test_add_matches_reference(kernels, size):
    rng = np.random.default_rng(size)
    a = rng.integers(-128, 128, size, dtype=np.int8)
    b = rng.integers(-128, 128, size, dtype=np.int8)
    s1, s2, so = 0.05, 0.11, 0.06  # output scale small enough to saturate
    twice_max = 2 * max(s1, s2)
    m1, sh1 = quantize_multiplier_smaller_than_one(s1 / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one(s2 / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one(twice_max / ((1 << 20) * so))
    args = dict(input1_offset=128, input1_mult=m1, input1_shift=sh1, input2_offset=-3, input2_mult=m2,
                input2_shift=sh2, left_shift=20, output_offset=-128, out_mult=mo, out_shift=sho, act_min=-128,
                act_max=127)
    expected = add_s8(a, b, **args)
    assert (expected == 127).any() or size < 64  # saturation is exercised on the longer vectors
    np.testing.assert_array_equal(kernels.add_s8(a, b, **args), expected)


@pytest.mark.parametrize("rows, row_size, input_scale", [(1, 10, 0.1), (4, 3, 0.5), (2, 37, 0.02), (3, 1, 0.3)])
def test_softmax_matches_reference(kernels, rows, row_size, input_scale):
    rng = np.random.default_rng(row_size)
    x = rng.integers(-128, 128, (rows, row_size), dtype=np.int8)
    x[0, 0] = 127
    mult, shift, diff_min = softmax_params(1.0, input_scale)
    args = dict(input_mult=mult, input_left_shift=shift, diff_min=diff_min)
    np.testing.assert_array_equal(kernels.softmax_s8(x, **args), softmax_s8(x, **args))


def test_pad_matches_reference(kernels):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 2, 5, 3), dtype=np.int8)
    paddings = [(0, 0), (1, 0), (2, 3), (0, 1)]
    np.testing.assert_array_equal(kernels.pad_s8(x, paddings, -7), pad_s8(x, paddings, -7))


def test_scratch_sizes_equal_the_c_get_buffer_size():
    """Every kernel spec's scratch equals what its C ``*_get_buffer_size`` asks on the DSP path:
    each kernel of the calibration set runs with exactly that scratch (the generated size check
    passes) and fails with one byte less (the check refuses), so the two numbers are equal."""
    from edge_deploy.testing.random_layers import calibration_cases

    kernels = HostKernels("dsp")
    cases = [c for c in calibration_cases() if c.kernel.c_scratch_bytes(c.call) > 0]
    assert {c.kernel.name for c in cases} >= {"arm_convolve_s8", "ed_convolve_winograd_s8",
                                              "ed_convolve_group_sparse_s8", "ed_fully_connected_skip_zero_s8"}
    for case in cases:
        case.scratch_bytes = case.kernel.c_scratch_bytes(case.call)
    short = []
    for case in cases:
        copy = type(case)(case.name + "-short", case.kernel, case.call, case.inputs, case.expected,
                          case.scratch_bytes - 1, states=case.states)
        short.append(copy)
    # One program runs at most 255 cases (the harness's profiling marks): as many builds as that takes.
    for at in range(0, len(cases), 255):
        run, run_short = kernels.run(cases[at:at + 255]), kernels.run(short[at:at + 255])
        part = cases[at:at + 255]
        assert run.statuses == [0] * len(part), [c.name for c, s in zip(part, run.statuses) if s]
        assert run_short.statuses == [-1] * len(part), [c.name for c, s in zip(part, run_short.statuses) if s == 0]
        assert all(np.array_equal(out, c.expected) for c, out in zip(part, run.outputs))


@pytest.mark.slow
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
def test_kernels_under_sanitizers():
    """This file again, with ASan + UBSan builds of both paths, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
