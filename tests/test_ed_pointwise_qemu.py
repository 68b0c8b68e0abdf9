"""``ed_pointwise_conv_s8`` compiled for the Cortex-M4 and run on QEMU mps2-an386 in both roundings
(its Thumb-2 passes, ED_NN_ASM, which the host tests in tests/test_ed_pointwise_host.py cannot
reach), bit for bit against the conv2d int8 reference: the first pass's loop of four groups
entered at every point (1 to 6 groups, a second turn) with 3, 4 and 5 output channels, odd pixel
counts (a lone last pixel), input depths not a multiple of 4, blocks of pixels with a short last
one, the clamp (the C second pass) and the whole int8 range (the Thumb-2 one), channels off the
fast requantization beside channels on it, accumulators at the kernel's bound. One image per
rounding; the portable C runs on the host in both.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.kernels.ed_pointwise_conv_s8 import ACCUMULATOR_LIMIT
from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from kernel_runner import random_requant

pytestmark = pytest.mark.qemu

KERNEL = "ed_pointwise_conv_s8"


def _pw(rng, name, in_shape, cout, rounding, offsets=(3, -5), act=(-128, 127), shifts=(-10, 0)) -> KernelCase:
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, (cout, 1, 1, in_shape[3]), dtype=np.int8)
    bias = rng.integers(-20000, 20000, cout).astype(np.int32)
    mult, shift = random_requant(rng, cout, shifts)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift, stride=(1, 1),
                  padding=(0, 0, 0, 0), dilation=(1, 1), act_min=act[0], act_max=act[1])
    return kernel_case(f"pw-{name}", KERNEL, "conv2d", [x], params, weights=w, bias=bias,
                       attrs={"activation": "none"}, rounding=rounding)


def _cases(rounding) -> list[KernelCase]:
    rng = np.random.default_rng(1316)
    cases = [_pw(rng, f"{groups}-groups-{cout}-channels", (1, 3, 3, 4 * groups), cout, rounding, offsets=offsets,
                 act=act, shifts=(-18, -1))
             for groups in range(1, 7)
             for cout, offsets, act in ((3, (128, 127), (127 - 90, 127)), (4, (-127, -128), (-128, 127)),
                                        (5, (0, 127), (-128, -128 + 70)))]
    cases += [_pw(rng, "vww-8-to-16", (1, 6, 7, 8), 16, rounding, offsets=(128, -128)),
              _pw(rng, "kws-64-to-64", (1, 5, 5, 64), 64, rounding, offsets=(-127, 127)),
              _pw(rng, "cin-6-tail", (1, 4, 5, 6), 8, rounding, offsets=(20, -3)),
              _pw(rng, "cin-13-odd-pixels", (1, 3, 3, 13), 7, rounding),
              _pw(rng, "slow-shifts", (1, 4, 5, 8), 9, rounding, shifts=(-31, 3)),
              _pw(rng, "blocks-of-8-pixels", (1, 5, 7, 8), 128, rounding, offsets=(128, -128)),
              _pw(rng, "blocks-of-14-pixels-mixed-shifts", (1, 5, 6, 20), 64, rounding, shifts=(-20, -15))]
    x = rng.integers(-128, 128, (1, 3, 3, 8), dtype=np.int8)
    w = rng.integers(-127, 128, (6, 1, 1, 8), dtype=np.int8)
    room = ACCUMULATOR_LIMIT - 128 * int(np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)).max()) - 128 * 127 * 8
    params = dict(input_offset=128, output_offset=-3, out_mult=np.array([1 << 30, (1 << 31) - 1] * 3, np.int32),
                  out_shift=np.array([-1, -1, -18, -18, -2, -9], np.int32), stride=(1, 1), padding=(0, 0, 0, 0),
                  dilation=(1, 1), act_min=-128, act_max=127)
    cases.append(kernel_case("pw-accumulators-at-the-bound", KERNEL, "conv2d", [x], params, weights=w,
                             bias=np.array([room, -room, room, -room, 7, -7], np.int32), attrs={"activation": "none"},
                             rounding=rounding))
    return cases


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_pointwise_bit_exact_on_cortex_m4(qemu_arm, tmp_path, rounding):
    cases = _cases(rounding)
    run = run_qemu(build_qemu(cases, tmp_path, rounding=rounding), cases)
    for case, output, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, f"{case.name}: kernel returned an error status"
        np.testing.assert_array_equal(output, case.expected, err_msg=f"{rounding} rounding, case {case.name}")
