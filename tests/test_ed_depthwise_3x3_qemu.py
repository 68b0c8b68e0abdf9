"""``ed_depthwise_conv_3x3_s8``'s Thumb-2 passes (doubled sums and the SMMLA(R) requantization) on
QEMU mps2-an386 in both roundings, bit for bit against the reference: the requantization's edges
(right shifts 1 and 23, output zero points -128 and 127, folded biases on either side of the fast
path's limit, so one group mixes fast and slow channels), odd widths, channels not a multiple of
4, padding on every side, stride 2, the transposed walk, and a clamp (the C path), and every
ending of a row over the ring (ed_dw3_run_s1 / _s2): whole passes of four, then 1 to 3 outputs
in passes of two (storing 1 or 2: a pass of two alone, one, or two after each other); and rows of one
pass over a group's whole gathered plane (ed_dw3_plane*: rows of 3 and 6 at strides 1 and 2).
Host builds (portable C and emulated DSP) are in tests/test_ed_kernels_host.py."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu

pytestmark = pytest.mark.qemu

LIMIT = 1 << 29  # ED_DW3_BIAS_LIMIT: beyond it a channel keeps undoubled sums


def _case(rng, name, in_shape, stride=(1, 1), padding=(1, 1, 1, 1), offsets=(128, -128), act=(-128, 127),
          shifts=(-10, -6), bias=None, rounding="double") -> KernelCase:
    cout = in_shape[3]
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-128, 128, (1, 3, 3, cout), dtype=np.int8)
    b = rng.integers(-20000, 20000, cout).astype(np.int32) if bias is None else np.asarray(bias, dtype=np.int32)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], stride=stride, padding=padding,
                  dilation=(1, 1), act_min=act[0], act_max=act[1],
                  out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32),
                  out_shift=rng.integers(shifts[0], shifts[1] + 1, cout).astype(np.int32))
    return kernel_case(name, "ed_depthwise_conv_3x3_s8", "depthwise_conv2d", [x], params, weights=w, bias=b,
                       attrs={"activation": "none", "depth_multiplier": 1}, rounding=rounding)


def _cases(rounding: str) -> list[KernelCase]:
    rng = np.random.default_rng(1307)
    # Biases around the limit (the input offset 0 leaves them as folded), the shift of 23 keeping
    # the outputs inside int8: channels 1 and 6 are over it, the others fast.
    near = np.array([LIMIT - 5000, LIMIT + 1, -LIMIT + 3000, -LIMIT, 7, LIMIT, -LIMIT - 1, 12345])
    return [_case(rng, *args, **kw, rounding=rounding) for args, kw in [
        (("kws-25x5-transposed", (1, 25, 5, 12)), {}),
        (("vww-6x6-s1-pass-of-six", (1, 6, 6, 16)), {}),
        (("six-wide-7-channels", (1, 5, 6, 7)), {"offsets": (-127, -128)}),
        (("six-wide-transposed", (1, 6, 4, 8)), {"shifts": (-23, -1)}),
        (("s2-odd-width-odd-channels", (1, 9, 11, 7), (2, 2), (0, 1, 0, 1)), {"offsets": (-127, 127)}),
        (("s2-same-even", (1, 12, 12, 8), (2, 2), (0, 1, 0, 1)), {}),
        (("padding-every-side", (1, 6, 7, 5), (1, 1), (2, 0, 1, 2)), {"offsets": (-20, 3)}),
        (("valid-odd-width", (1, 8, 13, 6), (1, 1), (0, 0, 0, 0)), {"offsets": (0, 127)}),
        (("shift-1", (1, 5, 9, 8)), {"shifts": (-1, -1), "offsets": (5, -128)}),
        (("shift-23", (1, 5, 9, 8)), {"shifts": (-23, -23), "offsets": (128, 127)}),
        (("biases-around-the-limit", (1, 4, 6, 8)), {"shifts": (-23, -23), "offsets": (0, 0), "bias": near}),
        (("one-output-column", (1, 5, 3, 4), (1, 1), (1, 1, 0, 0)), {}),
        # a row of one input column: only edge pairs of the zero point (ed_dw3_gather_row_s, no inside pair)
        (("one-pixel-left-edge-pair", (1, 1, 1, 4), (1, 1), (1, 1, 1, 1)), {"offsets": (-127, 5)}),
        (("one-pixel-right-edge-pair", (1, 1, 1, 8), (1, 1), (1, 1, 0, 2)), {}),
        (("s2-width-5-pass-of-two-storing-one", (1, 9, 9, 8), (2, 2), (0, 1, 0, 1)), {}),
        (("s2-width-2-pass-of-two-alone", (1, 5, 4, 4), (2, 2), (0, 1, 0, 1)), {}),
        (("s2-width-7-two-passes-of-two", (1, 7, 15, 8), (2, 2), (0, 1, 0, 1)), {"offsets": (128, 127)}),
        (("transposed-stride-2", (1, 17, 6, 8), (2, 2), (0, 1, 1, 1)), {"offsets": (-3, 5)}),
        (("relu6-clamp-c-path", (1, 7, 6, 8)), {"act": (-128, 40)}),
        # rows of one pass, each group's whole plane gathered at once (ed_dw3_plane3_s1 / 3_s2 / 6_s1 / 6_s2)
        (("plane-3x3-s1", (1, 3, 3, 12)), {}),
        (("plane-6x6-s2-rows-of-three", (1, 6, 6, 12), (2, 2), (0, 1, 0, 1)), {"offsets": (-127, 127)}),
        (("plane-six-wide-padding-top-left", (1, 3, 6, 8), (1, 1), (2, 0, 2, 0)), {}),
        (("plane-six-s2-vertical-stride-1", (1, 4, 12, 8), (1, 2), (1, 1, 1, 1)), {"shifts": (-23, -1)}),
        (("plane-six-clamp-c-path", (1, 6, 6, 8)), {"act": (-128, 40)}),
        (("plane-six-s2", (1, 11, 11, 8), (2, 2)), {"offsets": (-127, -128)}),
        # the same rows with a partial group of channels take the ring
        (("rows-of-three-10-channels-ring", (1, 6, 6, 10), (2, 2), (0, 1, 0, 1)), {}),
        (("six-s2-6-channels-ring", (1, 11, 11, 6), (2, 2)), {"offsets": (9, -3)}),
    ]]


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_depthwise_3x3_thumb2_bit_exact(qemu_arm, tmp_path, rounding):
    cases = _cases(rounding)
    run = run_qemu(build_qemu(cases, tmp_path, path="dsp", rounding=rounding), cases)
    for case, output, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, f"{case.name}: kernel returned an error status"
        np.testing.assert_array_equal(output, case.expected, err_msg=f"{rounding} rounding, case {case.name}")
