"""edge-deploy's own fast kernels (``ed_*`` in firmware/kernels/, issue 13) built for the host and
compared bit for bit with the ops' int8 references, each called through its template partial
(tests/kernel_runner.py), on the edge shapes the networks and the corner cases give: odd widths,
channel counts not a multiple of 4, padding on every side, strides, dilation, channel
multipliers, zero points at their limits, activation clamps, requantization on the slow path.

Both kernel paths run: portable C, and the DSP path with its instructions emulated. With
ED_KERNELS_SANITIZE=1 everything is built with AddressSanitizer and UndefinedBehaviorSanitizer
(test_ed_kernels_under_sanitizers runs this file that way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kernel_runner import SANITIZE, random_requant

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")




def _depthwise_case(kernels, rng, name, in_shape, mult, kernel_hw, stride=(1, 1), padding=(0, 0, 0, 0),
                    dilation=(1, 1), offsets=(3, -5), act=(-128, 127), shifts=(-10, 0), bias=True,
                    kernel="ed_depthwise_conv_s8"):
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    cout = in_shape[3] * mult
    w = rng.integers(-127, 128, (1, *kernel_hw, cout), dtype=np.int8)
    b = rng.integers(-20000, 20000, cout).astype(np.int32) if bias else None
    out_mult, out_shift = random_requant(rng, cout, shifts)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=out_mult, out_shift=out_shift,
                  stride=stride, padding=padding, dilation=dilation, act_min=act[0], act_max=act[1])
    return kernels.case(kernel, "depthwise_conv2d", [x], params, weights=w, bias=b,
                        attrs={"activation": "none", "depth_multiplier": mult})


# (input NHWC, multiplier, kernel, stride, padding (t, b, l, r), dilation, offsets (input, output))
DEPTHWISE = [
    ("mobilenet-3x3-s1", (1, 12, 12, 16), 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, -128)),
    ("mobilenet-3x3-s2-odd-width", (1, 9, 11, 8), 1, (3, 3), (2, 2), (0, 1, 0, 1), (1, 1), (-127, 127)),
    ("kws-25x5", (1, 25, 5, 64), 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, -128)),
    ("channels-not-multiple-of-4", (1, 7, 6, 7), 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (5, 9)),
    ("padding-every-side-asymmetric", (1, 6, 7, 4), 1, (3, 3), (1, 1), (2, 0, 1, 2), (1, 1), (-20, 3)),
    ("5x5-stride-3", (1, 13, 10, 12), 1, (5, 5), (3, 3), (2, 2, 2, 2), (1, 1), (17, -1)),
    ("dilation-2", (1, 9, 9, 8), 1, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), (-3, 0)),
    ("dilation-rows-only", (1, 10, 6, 4), 1, (3, 2), (1, 1), (1, 1, 0, 1), (3, 1), (9, 9)),
    ("micro-speech-fan-out-1-to-8", (1, 49, 40, 1), 8, (10, 8), (2, 2), (4, 5, 3, 4), (1, 1), (128, -128)),
    ("multiplier-2-of-3-channels", (1, 6, 5, 3), 2, (3, 3), (1, 2), (1, 1, 1, 1), (1, 1), (-127, 12)),
    ("multiplier-3-of-2-channels", (1, 5, 5, 2), 3, (2, 2), (1, 1), (0, 1, 0, 1), (1, 1), (7, -7)),
    ("1x1-window", (1, 4, 5, 12), 1, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (1, 1)),
    ("one-row-1d", (1, 1, 33, 8), 1, (1, 5), (1, 2), (0, 0, 2, 2), (1, 1), (50, -60)),
    ("window-taller-than-stride-gap", (1, 11, 4, 4), 1, (2, 3), (4, 1), (0, 0, 1, 1), (1, 1), (0, 0)),
    ("batch-2", (2, 5, 6, 8), 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (4, 4)),
]


def test_depthwise_matches_reference(kernels):
    rng = np.random.default_rng(13)
    cases = [_depthwise_case(kernels, rng, name, shape, mult, k, s, pad, dil, off)
             for name, shape, mult, k, s, pad, dil, off in DEPTHWISE]
    run = kernels.run(cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=case.name)


def test_depthwise_clamps_and_slow_requantization(kernels, kernels_single_rounding):
    """A ReLU6-like clamp inside the int8 range (the packed SIMD clamp), no bias, and shifts
    outside the fast path (0, left shifts, right shifts beyond 23) in some channels: those
    groups take the per-output requantization, the others stay fast."""
    rng = np.random.default_rng(14)
    for k in (kernels, kernels_single_rounding):
        cases = [
            _depthwise_case(k, rng, "relu6-clamp", (1, 8, 8, 12), 1, (3, 3), (1, 1), (1, 1, 1, 1),
                            offsets=(128, -128), act=(-128, 40)),
            _depthwise_case(k, rng, "relu-floor-no-bias", (1, 5, 9, 8), 1, (3, 3), (2, 1), (1, 1, 1, 1),
                            offsets=(-5, 20), act=(20, 127), bias=False),
            _depthwise_case(k, rng, "slow-shifts", (1, 6, 6, 16), 1, (3, 3), (1, 1), (1, 1, 1, 1),
                            offsets=(60, -2), shifts=(-31, 3)),
        ]
        run = k.run(cases)
        for case, out, status in zip(cases, run.outputs, run.statuses):
            assert status == 0, case.name
            np.testing.assert_array_equal(out, case.expected, err_msg=f"{k.path} {k.rounding}: {case.name}")


# ed_depthwise_conv_3x3_s8: 3 x 3, multiplier 1, horizontal stride 1 or 2, any vertical stride.
DEPTHWISE_3X3 = [
    ("mobilenet-3x3-s1", (1, 12, 12, 16), (1, 1), (1, 1, 1, 1), (128, -128)),
    ("mobilenet-3x3-s2-odd-width", (1, 9, 11, 8), (2, 2), (0, 1, 0, 1), (-127, 127)),
    ("kws-25x5", (1, 25, 5, 64), (1, 1), (1, 1, 1, 1), (128, -128)),
    ("channels-not-multiple-of-4", (1, 7, 6, 7), (1, 1), (1, 1, 1, 1), (5, 9)),
    ("padding-every-side-asymmetric", (1, 6, 7, 4), (1, 1), (2, 0, 1, 2), (-20, 3)),
    ("valid-odd-width-5-channels", (1, 8, 13, 5), (1, 1), (0, 0, 0, 0), (0, 0)),
    ("stride-2-valid-1-channel", (1, 9, 10, 1), (2, 2), (0, 0, 0, 0), (-127, -128)),
    ("vertical-stride-4-horizontal-1", (1, 13, 6, 8), (4, 1), (1, 1, 1, 1), (9, 9)),
    ("one-output-column", (1, 5, 3, 4), (1, 1), (1, 1, 0, 0), (2, -2)),
    ("3x3-input-256-channels", (1, 3, 3, 256), (1, 1), (1, 1, 1, 1), (128, -128)),
    ("batch-2-stride-2", (2, 6, 7, 6), (2, 2), (1, 1, 1, 1), (4, 4)),
    # taller than wide: walked transposed (the kernel's rows are the input's columns)
    ("transposed-stride-2-odd-height", (1, 17, 6, 8), (2, 2), (0, 1, 1, 1), (-3, 5)),
    ("transposed-horizontal-stride-3", (2, 14, 7, 5), (1, 3), (1, 1, 1, 1), (11, -7)),
    # rows of one pass: each group gathers its whole plane (ed_dw3_plane), or with a partial group
    # of channels the ring
    ("plane-6x6-s2-12-channels", (1, 6, 6, 12), (2, 2), (0, 1, 0, 1), (128, -128)),
    ("rows-of-three-10-channels", (1, 6, 6, 10), (2, 2), (0, 1, 0, 1), (128, -128)),
    ("plane-six-padding-every-side", (1, 3, 5, 8), (1, 1), (2, 0, 1, 2), (-20, 3)),
    ("plane-vertical-stride-2-rows-of-three", (1, 5, 3, 8), (2, 1), (1, 1, 1, 1), (7, -1)),
    ("plane-six-s2-8-channels", (1, 11, 11, 8), (2, 2), (1, 1, 1, 1), (-3, 8)),
]


def test_depthwise_3x3_matches_reference(kernels):
    rng = np.random.default_rng(1303)
    cases = [_depthwise_case(kernels, rng, name, shape, 1, (3, 3), s, pad, offsets=off,
                             kernel="ed_depthwise_conv_3x3_s8")
             for name, shape, s, pad, off in DEPTHWISE_3X3]
    run = kernels.run(cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=case.name)


def test_depthwise_3x3_clamps_and_slow_requantization(kernels, kernels_single_rounding):
    """A clamp inside the int8 range, no bias, shifts outside the fast path in some channels,
    in both roundings."""
    rng = np.random.default_rng(1304)
    for k in (kernels, kernels_single_rounding):
        cases = [
            _depthwise_case(k, rng, "relu6-clamp", (1, 8, 8, 12), 1, (3, 3), (1, 1), (1, 1, 1, 1),
                            offsets=(128, -128), act=(-128, 40), kernel="ed_depthwise_conv_3x3_s8"),
            _depthwise_case(k, rng, "relu-floor-no-bias", (1, 5, 9, 8), 1, (3, 3), (2, 1), (1, 1, 1, 1),
                            offsets=(-5, 20), act=(20, 127), bias=False, kernel="ed_depthwise_conv_3x3_s8"),
            _depthwise_case(k, rng, "slow-shifts", (1, 6, 6, 16), 1, (3, 3), (1, 1), (1, 1, 1, 1),
                            offsets=(60, -2), shifts=(-31, 3), kernel="ed_depthwise_conv_3x3_s8"),
        ]
        run = k.run(cases)
        for case, out, status in zip(cases, run.outputs, run.statuses):
            assert status == 0, case.name
            np.testing.assert_array_equal(out, case.expected, err_msg=f"{k.path} {k.rounding}: {case.name}")


def test_depthwise_refuses_what_it_cannot_run_exactly():
    """The build falls back to arm_depthwise_conv_s8 where the folded bias could overflow or the
    window is taller than the kernel's row table."""
    from edge_deploy.kernels import get_kernel
    from edge_deploy.testing.cases import kernel_case

    rng = np.random.default_rng(15)
    x = rng.integers(-128, 128, (1, 4, 4, 4), dtype=np.int8)
    w = np.full((1, 3, 3, 4), 127, dtype=np.int8)
    params = dict(input_offset=128, output_offset=0, out_mult=np.full(4, 1 << 30), out_shift=np.full(4, -8))
    huge = np.full(4, (1 << 31) - 1000, dtype=np.int32)
    case = kernel_case("overflow", "arm_depthwise_conv_s8", "depthwise_conv2d", [x], params, weights=w, bias=huge)
    assert "int32" in get_kernel("ed_depthwise_conv_s8").applies(case.call)
    tall = rng.integers(-127, 128, (1, 17, 1, 4), dtype=np.int8)
    case = kernel_case("tall", "arm_depthwise_conv_s8", "depthwise_conv2d", [np.zeros((1, 17, 2, 4), np.int8)],
                       params, weights=tall)
    assert "height" in get_kernel("ed_depthwise_conv_s8").applies(case.call)


def _conv_case(kernels, rng, in_shape, cout, kernel_hw, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
               offsets=(3, -5), act=(-128, 127), shifts=(-10, 0), bias=True):
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, (cout, *kernel_hw, in_shape[3]), dtype=np.int8)
    b = rng.integers(-20000, 20000, cout).astype(np.int32) if bias else None
    out_mult, out_shift = random_requant(rng, cout, shifts)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=out_mult, out_shift=out_shift,
                  stride=stride, padding=padding, dilation=dilation, act_min=act[0], act_max=act[1])
    return kernels.case("ed_convolve_s8", "conv2d", [x], params, weights=w, bias=b, attrs={"activation": "none"})


# (input NHWC, output channels, kernel, stride, padding (t, b, l, r), dilation, offsets (input, output))
CONVOLVE = [
    ("pointwise-mobilenet", (1, 6, 6, 16), 32, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (128, -128)),
    ("pointwise-odd-positions", (1, 5, 5, 8), 7, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (-127, 127)),
    ("pointwise-odd-width-rows", (1, 3, 7, 12), 10, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (5, 9)),
    ("pointwise-cin-not-multiple-of-4", (1, 4, 5, 6), 8, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (20, -3)),
    ("pointwise-stride-2", (1, 7, 7, 8), 9, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), (1, 1)),
    ("resnet-3x3-s1", (1, 8, 8, 16), 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, -128)),
    ("resnet-3x3-s2", (1, 8, 8, 16), 32, (3, 3), (2, 2), (0, 1, 0, 1), (1, 1), (-50, 12)),
    ("rgb-first-3-channels", (1, 9, 11, 3), 8, (3, 3), (2, 2), (0, 1, 0, 1), (1, 1), (-127, 127)),
    ("kws-first-10x4-s2", (1, 49, 10, 1), 16, (10, 4), (2, 2), (4, 5, 1, 2), (1, 1), (128, -128)),
    ("padding-every-side-asymmetric", (1, 6, 7, 4), 5, (3, 3), (1, 1), (2, 0, 1, 2), (1, 1), (-20, 3)),
    ("dilation", (1, 9, 9, 4), 4, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), (-3, 0)),
    ("one-output-position", (1, 3, 3, 8), 3, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), (7, -7)),
    ("batch-2", (2, 4, 5, 8), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (4, 4)),
    ("one-channel-only-a-short-block", (1, 6, 5, 12), 1, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (-127, 127)),
    ("two-channels-only-a-short-block", (1, 7, 6, 4), 2, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (9, -9)),
    # A patch of 1,152 elements whose random weights sum to about 73,000 in magnitude per channel:
    # flagged chunked, the second channels recovered every 512 elements (three chunks).
    ("heavy-3x3-over-128-channels-chunked", (1, 4, 5, 128), 5, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, -3)),
    # Rows of the window that are not whole words (the staged paths of ed_conv_column): VWW's and
    # IC's first layers, 1, 2 and 5 channels, longer rows, each side padded alone, a row wholly in
    # the padding, a patch that is whole words (k = k4), rows apart (dilation_h alone).
    ("vww-first-s2-odd-width", (1, 11, 13, 3), 8, (3, 3), (2, 2), (0, 1, 0, 1), (1, 1), (128, -128)),
    ("ic-first-3x3-pad-1", (1, 7, 9, 3), 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (-127, 127)),
    ("cin-1-rows-of-3", (1, 6, 7, 1), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, 0)),
    ("cin-2-rows-of-6", (1, 6, 7, 2), 5, (3, 3), (2, 1), (1, 0, 0, 1), (1, 1), (-127, 3)),
    ("cin-5-rows-of-15", (1, 7, 6, 5), 7, (3, 3), (1, 2), (0, 0, 1, 1), (1, 1), (7, -7)),
    ("5x5-cin-3-rows-of-15", (1, 9, 8, 3), 4, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), (128, -128)),
    ("1x1-cin-5-rows-of-5", (1, 4, 5, 5), 3, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (-127, 127)),
    ("padding-top-only", (1, 5, 6, 3), 3, (3, 3), (1, 1), (1, 0, 0, 0), (1, 1), (128, 5)),
    ("padding-bottom-only", (1, 5, 6, 3), 3, (3, 3), (1, 1), (0, 1, 0, 0), (1, 1), (-127, 5)),
    ("padding-left-only", (1, 5, 6, 3), 3, (3, 3), (1, 1), (0, 0, 1, 0), (1, 1), (128, 5)),
    ("padding-right-only", (1, 5, 6, 3), 3, (3, 3), (1, 1), (0, 0, 0, 1), (1, 1), (-127, 5)),
    ("rows-wholly-in-padding", (1, 4, 4, 3), 5, (3, 3), (1, 1), (3, 3, 3, 3), (1, 1), (128, -128)),
    ("patch-whole-words-rows-not", (1, 5, 6, 3), 4, (2, 2), (1, 1), (0, 1, 0, 1), (1, 1), (-127, 127)),
    ("dilation-rows-only", (1, 9, 8, 3), 5, (3, 3), (1, 1), (2, 2, 1, 1), (2, 1), (60, -3)),
    # Rows of 1 to 3 bytes inside the input (ed_conv_column_short, single windows and quads of one
    # output row): a row's bytes split across two group words, the last word exactly full (k = k4)
    # or partial, rows dilated apart, and person_detect's first layer's 3 x 3 stride 2 over one channel.
    ("rows-of-1-kh-5", (1, 9, 10, 1), 6, (5, 1), (1, 1), (2, 2, 0, 0), (1, 1), (128, -128)),
    ("rows-of-2-cin-2-kw-1", (1, 7, 9, 2), 5, (3, 1), (1, 1), (0, 0, 0, 0), (1, 1), (-127, 127)),
    ("rows-of-3-kh-4-k-whole-words-s2", (1, 8, 9, 3), 4, (4, 1), (2, 2), (1, 1, 0, 0), (1, 1), (128, 3)),
    ("rows-of-2-one-group", (1, 6, 13, 1), 3, (2, 2), (1, 1), (0, 0, 0, 0), (1, 1), (-5, 5)),
    ("rows-of-3-kh-7-padded", (1, 10, 12, 1), 4, (7, 3), (1, 1), (3, 3, 1, 1), (1, 1), (-127, 0)),
    ("rows-of-3-dilated-rows", (1, 9, 11, 1), 5, (3, 3), (1, 1), (2, 2, 1, 1), (2, 1), (60, -3)),
    ("person-detect-first-3x3-s2-cin-1", (1, 12, 16, 1), 8, (3, 3), (2, 2), (0, 1, 0, 1), (1, 1), (128, -128)),
    # Four positions per pass: 2 and 3 left over (the last position repeated in the free slots),
    # a pass across rows of a 1 x 1 layer, one channel only (no whole block of two).
    ("quad-2-left-odd-channels", (1, 3, 6, 8), 5, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (128, -128)),
    ("quad-3-left-two-channels", (1, 4, 6, 4), 2, (3, 3), (1, 1), (1, 0, 1, 0), (1, 1), (-127, 127)),
    ("pointwise-quads-across-rows", (1, 5, 5, 16), 6, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), (7, -7)),
    ("one-channel-3x3", (1, 5, 5, 4), 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (20, 3)),
]


def test_convolve_matches_reference(kernels):
    rng = np.random.default_rng(16)
    cases = [_conv_case(kernels, rng, shape, cout, k, s, pad, dil, off)
             for name, shape, cout, k, s, pad, dil, off in CONVOLVE]
    run = kernels.run(cases)
    for (name, *_), case, out, status in zip(CONVOLVE, cases, run.outputs, run.statuses):
        assert status == 0, name
        np.testing.assert_array_equal(out, case.expected, err_msg=name)


def test_convolve_clamps_and_slow_requantization(kernels, kernels_single_rounding):
    """A ReLU6-like clamp, no bias, and shifts outside the fast path in some channels (those
    blocks take the per-output requantization)."""
    rng = np.random.default_rng(17)
    for k in (kernels, kernels_single_rounding):
        cases = [
            _conv_case(k, rng, (1, 6, 6, 8), 12, (1, 1), offsets=(128, -128), act=(-128, 40)),
            _conv_case(k, rng, (1, 5, 6, 4), 7, (3, 3), (1, 1), (1, 1, 1, 1), offsets=(-5, 20), act=(20, 127),
                       bias=False),
            _conv_case(k, rng, (1, 4, 4, 8), 9, (1, 1), offsets=(60, -2), shifts=(-31, 3)),
        ]
        run = k.run(cases)
        for case, out, status in zip(cases, run.outputs, run.statuses):
            assert status == 0, case.name
            np.testing.assert_array_equal(out, case.expected, err_msg=f"{k.path} {k.rounding}: {case.name}")


def test_convolve_packs_weights_as_the_header_says():
    from edge_deploy.kernels.ed_convolve_s8 import pack_weights

    rows = (np.arange(5 * 6, dtype=np.int64).reshape(5, 6) * 9 - 120).astype(np.int8)  # 5 channels, patch 6
    words = pack_weights(rows)
    assert words.shape == (3 * 2 * 2,)  # 3 pairs of channels, 2 groups of 4 (patch padded to 8), 2 words
    halves = words.view(np.int16).reshape(3, 2, 2, 2).astype(np.int64)  # (pair, group, word, halfword)
    w = rows.astype(np.int64)
    assert halves[0, 1, 1].tolist() == [w[0, 5] + 256 * w[1, 5], 0]  # (h5, h7), the patch padded
    assert halves[1, 0, 0].tolist() == [w[2, 0] + 256 * w[3, 0], w[2, 2] + 256 * w[3, 2]]
    assert halves[2, 0, 1].tolist() == [w[4, 1], w[4, 3]]  # the padding channel adds nothing


def test_convolve_pair_arithmetic_gives_both_channels():
    """The Thumb-2 loop's arithmetic on the packed pairs, emulated in numpy: the packed sum
    (SMLAD with the pair words, modulo 2^32) less the first channel's (SMLAD with their SXTB16),
    shifted right by 8, is the second channel's dot product, at the bound the build allows and
    with the first channel's sum anywhere in int32."""
    from edge_deploy.kernels.ed_convolve_s8 import PAIR_PRODUCTS_LIMIT, pack_weights, pair_refusal

    rng = np.random.default_rng(77)
    k = 512
    second = np.full(k, 127, dtype=np.int64)
    second[::3] = -127
    rows = np.stack([rng.integers(-127, 128, k), second]).astype(np.int8)
    assert pair_refusal(rows) is None  # 128 * 512 * 127 < 2^23
    words = pack_weights(rows).astype(np.uint64)
    for x in (np.where(second > 0, -128, 127), np.where(second > 0, 127, -128), rng.integers(-128, 128, k)):
        lo = (words & 0xFFFF).astype(np.uint16).view(np.int16).astype(np.int64)
        hi = (words >> 16).astype(np.uint16).view(np.int16).astype(np.int64)
        first_lo = ((words & 0xFF).astype(np.uint8).view(np.int8)).astype(np.int64)
        first_hi = (((words >> 16) & 0xFF).astype(np.uint8).view(np.int8)).astype(np.int64)
        cols = x.reshape(-1, 4)  # per group (x0, x2) against word 0, (x1, x3) against word 1
        xs_lo = cols[:, [0, 1]].reshape(-1)
        xs_hi = cols[:, [2, 3]].reshape(-1)
        bias = 2**31 - 2**27 - 128 * 127 * k  # the first channel's sum near the top of int32
        packed = (bias + int((lo * xs_lo + hi * xs_hi).sum())) % 2**32
        first = bias + int((first_lo * xs_lo + first_hi * xs_hi).sum())
        assert first == bias + int(rows[0].astype(np.int64) @ x)
        diff = (packed - first) % 2**32
        recovered = (diff - 2**32 if diff >= 2**31 else diff) >> 8
        assert recovered == int(second @ x)
        assert abs(recovered) < PAIR_PRODUCTS_LIMIT


def test_convolve_refuses_weights_the_pairs_cannot_carry_and_flags_heavy_layers():
    from edge_deploy.kernels.ed_convolve_s8 import needs_chunks, pair_refusal

    def abs_sums(rows):
        return np.abs(rows.astype(np.int64)).sum(axis=1)

    ok = np.full((2, 516), 127, dtype=np.int8)
    assert pair_refusal(ok) is None and not needs_chunks(abs_sums(ok))
    heavy = np.full((3, 517), -127, dtype=np.int8)
    assert pair_refusal(heavy) is None and needs_chunks(abs_sums(heavy))  # recovered in chunks instead
    minus = np.zeros((2, 4), dtype=np.int8)
    minus[0, 2], minus[1, 2] = -1, -128
    assert "-128" in pair_refusal(minus)
    minus[0, 2] = 0  # a -128 after a weight >= 0 is an int16
    assert pair_refusal(minus) is None


def test_fully_connected_packing_gives_the_dot_product():
    """The Thumb-2 loop's arithmetic on the packed words, emulated in numpy: per group SMLAD of
    X = (x0, x2) with the raw word's halfwords and SMLAD of Y = (x1 - 128 - 256 x0, ...) with its
    odd bytes, from the packed bias less 128 x the even inputs, is the folded bias plus x . w
    modulo 2^32, for inputs and weights at their limits and a depth not a multiple of 4; and Y is
    REV16 of the input word EOR 0xff80ff80 (what ed_fc_widen stores) for every pair of bytes."""
    from edge_deploy.kernels.ed_fully_connected_s8 import ROWS, pack_weights, packed_bias

    rng = np.random.default_rng(1313)
    units, depth = 7, 30
    w = rng.choice(np.array([-128, -127, -1, 0, 1, 127], dtype=np.int8), (units, depth))
    x = rng.choice(np.array([-128, -127, -1, 0, 1, 127], dtype=np.int8), depth)
    folded = rng.integers(-2**31 + 2**24, 2**31 - 2**24, units)
    words = pack_weights(w).reshape(2, 8, ROWS)  # (block, group, row)
    bias = packed_bias(folded, w).astype(np.int64)
    xp = np.zeros(32, dtype=np.int64)
    xp[:depth] = x
    big_x, big_y = xp[0::2], xp[1::2] - 128 - 256 * xp[0::2]  # lanes in pair order
    assert big_y.min() >= -32768 and big_y.max() <= 32767
    halves = words.astype(np.uint32).view(np.int16).reshape(2, 8, ROWS, 2).astype(np.int64)
    odd = words.astype(np.uint32).view(np.int8).reshape(2, 8, ROWS, 4)[..., 1::2].astype(np.int64)
    for o in range(units):
        b, r = divmod(o, ROWS)
        acc = bias[o] - 128 * big_x.sum()
        acc += (halves[b, :, r, :].reshape(-1) * big_x).sum() + (odd[b, :, r, :].reshape(-1) * big_y).sum()
        want = int(folded[o]) + int(x.astype(np.int64) @ w[o].astype(np.int64))
        assert (acc - want) % 2**32 == 0, o
    pairs = np.arange(65536, dtype=np.uint32)  # byte 0 x0, byte 1 x1
    x0, x1 = pairs.astype(np.uint16).view(np.int8).reshape(-1, 2).T.astype(np.int64)
    rev = ((pairs & 0xff) << 8 | pairs >> 8) ^ 0xff80
    assert np.array_equal(rev, (x1 - 128 - 256 * x0) & 0xffff)


def _fc_case(kernels, rng, rows, depth, units, per_channel=True, offsets=(-7, 11), act=(-128, 127), shifts=(-12, -6),
             bias=True):
    x = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    b = rng.integers(-9000, 9000, units).astype(np.int32) if bias else None
    if per_channel:
        mult, shift = random_requant(rng, units, shifts)
    else:
        mult, shift = random_requant(rng, 1, shifts)
        mult, shift = int(mult[0]), int(shift[0])
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift,
                  act_min=act[0], act_max=act[1])
    return kernels.case("ed_fully_connected_s8", "fully_connected", [x], params, weights=w, bias=b,
                        attrs={"activation": "none"})


def test_fully_connected_matches_reference(kernels, kernels_single_rounding):
    rng = np.random.default_rng(18)
    for k in (kernels, kernels_single_rounding):
        cases = [
            _fc_case(k, rng, 1, 640, 128, offsets=(128, -128)),
            _fc_case(k, rng, 1, 128, 8, per_channel=False),
            _fc_case(k, rng, 1, 8, 128, offsets=(-128, 127)),
            _fc_case(k, rng, 1, 301, 17),                       # depth and units not multiples of 4
            _fc_case(k, rng, 1, 36, 7, per_channel=False, act=(0, 127)),
            _fc_case(k, rng, 3, 64, 10, act=(-128, 40), bias=False),
            _fc_case(k, rng, 2, 24, 6, shifts=(-31, 3)),        # the slow requantization
            _fc_case(k, rng, 1, 1, 1),
        ]
        run = k.run(cases)
        for case, out, status in zip(cases, run.outputs, run.statuses):
            assert status == 0, case.name
            np.testing.assert_array_equal(out, case.expected, err_msg=f"{k.path} {k.rounding}: {case.name}")


@pytest.mark.slow
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
def test_ed_kernels_under_sanitizers():
    """This file again, with ASan + UBSan builds of both paths, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
