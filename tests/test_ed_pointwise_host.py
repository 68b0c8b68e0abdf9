"""``ed_pointwise_conv_s8`` (issue 13: VWW's and KWS's 1x1 convolutions) built for the host, both
kernel paths (portable C, the DSP path emulated), both roundings, compared bit for bit with the
conv2d int8 reference through its template partial (tests/kernel_runner.py): input depths not a
multiple of 4, output channels not a multiple of 3, odd pixel counts, blocks of pixels with a
short last one, batches, zero points at their limits, clamps, channels off the fast
requantization next to channels on it. The Thumb-2 pass runs on QEMU (tests/test_ed_kernels_qemu.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from kernel_runner import random_requant

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")

KERNEL = "ed_pointwise_conv_s8"


def _case(k, rng, in_shape, cout, offsets=(128, -128), act=(-128, 127), shifts=(-10, 0), bias=True, extremes=False):
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, (cout, 1, 1, in_shape[3]), dtype=np.int8)
    if extremes:  # inputs and weights at their limits
        x = rng.choice(np.array([-128, 127], dtype=np.int8), in_shape)
        w = rng.choice(np.array([-127, 127], dtype=np.int8), (cout, 1, 1, in_shape[3]))
    b = rng.integers(-20000, 20000, cout).astype(np.int32) if bias else None
    mult, shift = random_requant(rng, cout, shifts)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift, stride=(1, 1),
                  padding=(0, 0, 0, 0), dilation=(1, 1), act_min=act[0], act_max=act[1])
    return k.case(KERNEL, "conv2d", [x], params, weights=w, bias=b, attrs={"activation": "none"})


# (name, input NHWC, output channels, offsets (input, output))
SHAPES = [
    ("vww-8-to-16", (1, 6, 8, 8), 16, (128, -128)),
    ("kws-64-to-64", (1, 5, 5, 64), 64, (-127, 127)),
    ("odd-pixels-cout-7", (1, 5, 5, 8), 7, (-127, 127)),
    ("cin-6-cout-8", (1, 4, 5, 6), 8, (20, -3)),
    ("cin-1", (1, 3, 5, 1), 4, (128, 0)),
    ("cin-3-cout-1", (1, 7, 3, 3), 1, (-5, 5)),
    ("cin-13-cout-2", (1, 3, 3, 13), 2, (0, 0)),
    ("one-pixel", (1, 1, 1, 16), 5, (7, -7)),
    ("batch-3-odd", (3, 3, 1, 12), 10, (4, 4)),
    ("blocks-of-pixels-short-last", (1, 9, 11, 8), 128, (128, -128)),  # blocks of 8 pixels, the last of 3
    ("blocks-of-56-pixels", (1, 9, 13, 16), 16, (-128, 3)),  # 3 blocks of 56, the last of 5
]


def test_pointwise_matches_reference(kernels, kernels_single_rounding):
    # both paths in double rounding; single rounding on the DSP path (its C shares the portable
    # path's requantization)
    for k in (kernels, kernels_single_rounding) if kernels.path == "dsp" else (kernels,):
        rng = np.random.default_rng(1313)
        cases = [_case(k, rng, shape, cout, off) for _, shape, cout, off in SHAPES]
        cases += [
            _case(k, rng, (1, 6, 6, 8), 12, act=(-128, 40)),                    # a ReLU6-like clamp
            _case(k, rng, (1, 5, 6, 16), 7, (-5, 20), act=(20, 127), bias=False),
            _case(k, rng, (1, 4, 5, 8), 9, (60, -2), shifts=(-31, 3)),           # shifts off the fast path
            _case(k, rng, (1, 3, 7, 32), 11, (-128 + 1, 127), shifts=(-16, -12), extremes=True),
        ]
        run = k.run(cases)
        for case, out, status in zip(cases, run.outputs, run.statuses):
            assert status == 0, case.name
            np.testing.assert_array_equal(out, case.expected, err_msg=f"{k.path} {k.rounding}: {case.name}")


def test_pointwise_packing_and_blocks():
    from edge_deploy.kernels.ed_pointwise_conv_s8 import block_pixels, pack_stream

    rows = np.arange(4 * 6, dtype=np.int64).reshape(4, 6).astype(np.int8)  # 4 channels, 6 input channels
    words = pack_stream(rows, np.array([-1, 2, 3, 70000]))
    assert words.size == 2 * (3 + 2 * 3)  # channels padded to 6, inputs to 8: 2 blocks of 3 biases, 2 groups x 3
    blocks = words.reshape(2, 9)
    assert list(blocks[:, :3].view(np.int32).reshape(-1)) == [-1, 2, 3, 70000, 0, 0]
    as_bytes = blocks[:, 3:].copy().view(np.int8).reshape(2, 2, 3, 4)  # block, group, channel, byte
    assert list(as_bytes[0, 0, 1]) == [6, 7, 8, 9] and list(as_bytes[0, 1, 1]) == [10, 11, 0, 0]
    assert not as_bytes[1, :, 1:].any() and list(as_bytes[1, 0, 0]) == [18, 19, 20, 21]
    assert block_pixels(2304, 16) == 56 and block_pixels(36, 128) == 8 and block_pixels(5, 8) == 6
    assert block_pixels(3, 1024) == 4 and block_pixels(1, 4) == 2 and block_pixels(144, 64) == 14


def test_pointwise_refuses_what_it_cannot_run():
    from edge_deploy.kernels import get_kernel
    from edge_deploy.testing.cases import kernel_case

    rng = np.random.default_rng(3)
    x = np.zeros((1, 6, 6, 8), np.int8)
    mult, shift = random_requant(rng, 4)
    base = dict(input_offset=128, output_offset=0, out_mult=mult, out_shift=shift, stride=(1, 1),
                padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127)
    spec = get_kernel(KERNEL)

    def why(params, w, bias=None):  # the layer as arm_convolve_s8 runs it, asked of this kernel
        return spec.applies(kernel_case("r", "arm_convolve_s8", "conv2d", [x], params, weights=w, bias=bias,
                                        attrs={"activation": "none"}).call)

    w1 = rng.integers(-127, 128, (4, 1, 1, 8), dtype=np.int8)
    assert why(base, w1) is None
    assert "3x3" in why(base, rng.integers(-127, 128, (4, 3, 3, 8), dtype=np.int8))
    assert "stride" in why({**base, "stride": (2, 2)}, w1)
    assert "stride or padding" in why({**base, "padding": (0, 1, 0, 1)}, w1)
    assert "2^31" in why(base, w1, bias=np.full(4, (1 << 31) - (1 << 27), np.int32))
