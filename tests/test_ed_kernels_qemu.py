"""edge-deploy's own fast kernels (``ed_depthwise_conv_s8``, ``ed_convolve_s8`` and
``ed_convolve_add_s8``, ``ed_fully_connected_s8``, issue 13) compiled for the Cortex-M4 and run on QEMU mps2-an386, compared
bit for bit with the ops' int8 references. On the M4 the DSP path runs the kernels' Thumb-2 loops
(ED_NN_ASM), which the host tests (tests/test_ed_kernels_host.py) cannot reach: these cases drive
them on the MLPerf Tiny shapes and the edges (odd widths, channels and units not a multiple of the
blocking, padding on every side, zero points at their limits, 1 to 3 positions left for the last pass, a short
last block, clamps and shifts that leave the fast requantization).
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.kernels.ed_convolve_s8 import ACCUMULATOR_LIMIT
from kernel_runner import random_requant

pytestmark = pytest.mark.qemu




def _conv(rng, name, in_shape, cout, kernel_hw, stride=(1, 1), padding=(0, 0, 0, 0), offsets=(3, -5),
          act=(-128, 127), shifts=(-10, 0), depthwise=False, kernel=None, rounding="double") -> KernelCase:
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w_shape = (1, *kernel_hw, cout) if depthwise else (cout, *kernel_hw, in_shape[3])
    w = rng.integers(-127, 128, w_shape, dtype=np.int8)
    bias = rng.integers(-20000, 20000, cout).astype(np.int32)
    mult, shift = random_requant(rng, cout, shifts)
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift, stride=stride,
                  padding=padding, dilation=(1, 1), act_min=act[0], act_max=act[1])
    attrs = {"activation": "none"}
    if depthwise:
        attrs["depth_multiplier"] = cout // in_shape[3]
    kernel = kernel or ("ed_depthwise_conv_s8" if depthwise else "ed_convolve_s8")
    return kernel_case(name, kernel, "depthwise_conv2d" if depthwise else "conv2d", [x], params, weights=w,
                       bias=bias, attrs=attrs, rounding=rounding)


def _dead_channels(rng) -> KernelCase:
    """ed_convolve_s8 with channels whose weights are all zero and whose requantization is off the
    kernel's fast path (shifts -29 and -31, biases near +-2^30 as batch norm leaves them: outputs
    of +-1 or +-2 and clamped ones); the kernel spec gives them its constant-channel
    requantization, so the layer stays on the fast path, with the same outputs."""
    x = rng.integers(-128, 128, (1, 5, 6, 8), dtype=np.int8)
    w = rng.integers(-127, 128, (9, 1, 1, 8), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 9).astype(np.int32)
    mult, shift = random_requant(rng, 9, (-10, 0))
    dead = [0, 2, 3, 5, 8]
    w[dead] = 0
    bias[dead] = [2**30 + 77, -2**30 - 5, 3 * 2**29, -3 * 2**29, 5]
    mult[dead], shift[dead] = [1 << 30, (1 << 31) - 1, 1 << 30, 1 << 30, 1 << 30], [-29, -29, -31, -1, -31]
    params = dict(input_offset=-3, output_offset=7, out_mult=mult, out_shift=shift, stride=(1, 1),
                  padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-100, act_max=127)
    return kernel_case("dead-channels-off-the-fast-path", "ed_convolve_s8", "conv2d", [x], params, weights=w,
                       bias=bias, attrs={"activation": "none"})


def _fc(rng, name, rows, depth, units, per_channel=True, offsets=(-7, 11), act=(-128, 127),
        shifts=(-12, -6), rounding="double", extremes=False) -> KernelCase:
    x = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    if extremes:  # only -128 and 127: the widened input words and the packed weights at their limits
        x = rng.choice(np.array([-128, 127], dtype=np.int8), (rows, depth))
        w = rng.choice(np.array([-128, 127], dtype=np.int8), (units, depth))
    bias = rng.integers(-9000, 9000, units).astype(np.int32)
    mult, shift = random_requant(rng, units if per_channel else 1, shifts)
    if not per_channel:
        mult, shift = int(mult[0]), int(shift[0])
    params = dict(input_offset=offsets[0], output_offset=offsets[1], out_mult=mult, out_shift=shift,
                  act_min=act[0], act_max=act[1])
    return kernel_case(name, "ed_fully_connected_s8", "fully_connected", [x], params, weights=w, bias=bias,
                       attrs={"activation": "none"}, rounding=rounding)


def _cases() -> list[KernelCase]:
    rng = np.random.default_rng(1313)
    return [
        _conv(rng, "dw-vww-3x3-s1", (1, 12, 12, 16), 16, (3, 3), padding=(1, 1, 1, 1), offsets=(128, -128),
              depthwise=True),
        _conv(rng, "dw-s2-odd-width-odd-channels", (1, 9, 11, 7), 7, (3, 3), (2, 2), (0, 1, 0, 1),
              offsets=(-127, 127), depthwise=True),
        _conv(rng, "dw-kws-25x5-relu", (1, 25, 5, 8), 8, (3, 3), padding=(1, 1, 1, 1), act=(-128, 40),
              depthwise=True),
        _conv(rng, "dw-fan-out-1-to-8", (1, 20, 16, 1), 8, (10, 8), (2, 2), (4, 5, 3, 4), depthwise=True),
        _conv(rng, "dw3-vww-3x3-s1", (1, 12, 12, 16), 16, (3, 3), padding=(1, 1, 1, 1), offsets=(128, -128),
              depthwise=True, kernel="ed_depthwise_conv_3x3_s8"),
        _conv(rng, "dw3-s2-odd-width-odd-channels", (1, 9, 11, 7), 7, (3, 3), (2, 2), (0, 1, 0, 1),
              offsets=(-127, 127), depthwise=True, kernel="ed_depthwise_conv_3x3_s8"),
        _conv(rng, "dw3-kws-25x5-relu", (1, 25, 5, 8), 8, (3, 3), padding=(1, 1, 1, 1), act=(-128, 40),
              depthwise=True, kernel="ed_depthwise_conv_3x3_s8"),
        _conv(rng, "dw3-s2-slow-shifts", (1, 10, 17, 12), 12, (3, 3), (2, 2), (0, 1, 0, 1), shifts=(-31, 3),
              depthwise=True, kernel="ed_depthwise_conv_3x3_s8"),
        _conv(rng, "pw-vww-1x1", (1, 6, 6, 16), 32, (1, 1), offsets=(128, -128)),
        _conv(rng, "pw-odd-positions-short-block", (1, 5, 5, 8), 7, (1, 1), offsets=(-127, 127)),
        _conv(rng, "pw-odd-width-rows", (1, 3, 7, 12), 10, (1, 1)),
        _conv(rng, "pw-relu6-clamp", (1, 4, 6, 8), 12, (1, 1), act=(-128, 40)),
        _conv(rng, "pw-slow-shifts", (1, 4, 4, 8), 9, (1, 1), shifts=(-31, 3)),
        _conv(rng, "pw-cin-6", (1, 4, 5, 6), 8, (1, 1), offsets=(20, -3)),
        _conv(rng, "resnet-3x3-s1", (1, 8, 8, 16), 16, (3, 3), padding=(1, 1, 1, 1), offsets=(128, -128)),
        _conv(rng, "resnet-3x3-s2-relu", (1, 8, 8, 16), 32, (3, 3), (2, 2), (0, 1, 0, 1), act=(-50, 127)),
        _conv(rng, "rgb-first-3-channels", (1, 9, 11, 3), 8, (3, 3), (2, 2), (0, 1, 0, 1), offsets=(-127, 127)),
        _conv(rng, "kws-first-10x4-s2", (1, 49, 10, 1), 16, (10, 4), (2, 2), (4, 5, 1, 2), offsets=(128, -128)),
        _conv(rng, "3x3-padding-every-side", (1, 6, 7, 4), 5, (3, 3), padding=(2, 0, 1, 2), offsets=(-20, 3)),
        _conv(rng, "one-channel-only-a-short-block", (1, 6, 5, 12), 1, (1, 1), offsets=(-127, 127)),
        _conv(rng, "two-channels-only-a-short-block", (1, 7, 6, 4), 2, (3, 3), padding=(1, 1, 1, 1), act=(-128, 40)),
        _dead_channels(rng),
        # Rows of the window that are not whole words (ed_conv_column's staged paths).
        _conv(rng, "vww-first-3x3-s2-relu6", (1, 11, 13, 3), 8, (3, 3), (2, 2), (0, 1, 0, 1), offsets=(128, -128),
              act=(-128, 40)),
        _conv(rng, "ic-first-3x3-pad-1", (1, 7, 9, 3), 16, (3, 3), padding=(1, 1, 1, 1), offsets=(-127, 127)),
        _conv(rng, "cin-1-rows-of-3", (1, 6, 7, 1), 4, (3, 3), padding=(1, 1, 1, 1), offsets=(128, 0)),
        _conv(rng, "cin-2-rows-of-6-top-right", (1, 6, 7, 2), 5, (3, 3), (2, 1), (1, 0, 0, 1), offsets=(-127, 3)),
        _conv(rng, "cin-5-rows-of-15-bottom-left", (1, 7, 6, 5), 7, (3, 3), (1, 2), (0, 1, 1, 0)),
        _conv(rng, "5x5-cin-3-rows-of-15", (1, 9, 8, 3), 4, (5, 5), padding=(2, 2, 2, 2), offsets=(128, -128)),
        _conv(rng, "rows-wholly-in-padding", (1, 4, 4, 3), 5, (3, 3), padding=(3, 3, 3, 3), offsets=(-127, 127)),
        _conv(rng, "patch-whole-words-rows-not", (1, 5, 6, 3), 4, (2, 2), padding=(0, 1, 0, 1)),
        # Rows of 1 to 3 bytes inside the input: ed_conv_column_short, single windows and quads.
        _conv(rng, "rows-of-1-kh-5", (1, 9, 10, 1), 6, (5, 1), padding=(2, 2, 0, 0), offsets=(128, -128)),
        _conv(rng, "rows-of-2-cin-2-kw-1", (1, 7, 9, 2), 5, (3, 1), offsets=(-127, 127), act=(-128, 40)),
        _conv(rng, "rows-of-3-kh-4-k-whole-words-s2", (1, 8, 9, 3), 4, (4, 1), (2, 2), (1, 1, 0, 0),
              offsets=(128, 3)),
        _conv(rng, "rows-of-3-kh-7-padded", (1, 10, 12, 1), 4, (7, 3), padding=(3, 3, 1, 1), offsets=(-127, 0)),
        _conv(rng, "person-detect-first-3x3-s2-cin-1", (1, 12, 16, 1), 8, (3, 3), (2, 2), (0, 1, 0, 1),
              offsets=(128, -128)),
        # Three rows of 9 bytes inside the input: ed_conv_column_tight's 27-element column.
        _conv(rng, "rgb-3x3-s1-valid-odd-width-zp-limits", (1, 8, 9, 3), 7, (3, 3), offsets=(128, -128),
              act=(-100, 60)),
        _conv(rng, "rgb-3x3-s2-padding-every-side", (1, 10, 11, 3), 6, (3, 3), (2, 2), (1, 2, 2, 1),
              offsets=(-127, 127)),
        _conv(rng, "rows-of-9-kw-9-cin-1", (1, 6, 13, 1), 4, (3, 9), (1, 2), (1, 0, 2, 1), offsets=(-127, 127)),
        _conv(rng, "rows-of-9-kw-1-cin-9-s2", (1, 7, 5, 9), 5, (3, 1), (2, 1), (1, 1, 0, 0), act=(-128, 40)),
        _conv(rng, "rows-of-9-four-rows", (1, 7, 6, 3), 4, (4, 3), padding=(1, 2, 1, 1), offsets=(128, -128)),
        # Four positions per pass: 2 and 3 left over, a 1 x 1 pass across rows, one channel only.
        _conv(rng, "quad-2-left-odd-channels", (1, 3, 6, 8), 5, (3, 3), padding=(1, 1, 1, 1), offsets=(128, -128)),
        _conv(rng, "quad-3-left-two-channels", (1, 4, 6, 4), 2, (3, 3), padding=(1, 0, 1, 0), act=(-128, 40)),
        _conv(rng, "pw-quads-across-rows-s2", (1, 9, 9, 16), 6, (1, 1), (2, 2), offsets=(7, -7)),
        _conv(rng, "one-channel-3x3", (1, 5, 5, 4), 1, (3, 3), padding=(1, 1, 1, 1), offsets=(20, 3)),
        _fc(rng, "fc-ad-640x128", 1, 640, 128, offsets=(128, -128)),
        _fc(rng, "fc-128x8-per-tensor", 1, 128, 8, per_channel=False),
        _fc(rng, "fc-8x128", 1, 8, 128, offsets=(-128, 127)),
        _fc(rng, "fc-301x17-padded-depth-short-block", 1, 301, 17),
        _fc(rng, "fc-36x7-relu-per-tensor", 1, 36, 7, per_channel=False, act=(0, 127)),
        _fc(rng, "fc-3-rows-slow-shifts", 3, 64, 10, shifts=(-31, 3)),
        _fc(rng, "fc-2-rows-depth-20", 2, 20, 6),
        _fc(rng, "fc-2-rows-depth-60-every-tail", 2, 60, 5),  # 15 groups: the loop of 4, then 2, then 1
        _fc(rng, "fc-depth-28-tails-only", 1, 28, 4, per_channel=False),  # 7 groups: one loop turn, 2, 1
        _fc(rng, "fc-128x128-relu-floor", 2, 128, 128, act=(-100, 127)),
        _fc(rng, "fc-1x1", 1, 1, 1),
        _fc(rng, "fc-extremes-per-tensor", 2, 64, 12, per_channel=False, offsets=(128, -3), shifts=(-16, -12),
            extremes=True),
        _fc(rng, "fc-extremes-depth-30", 1, 30, 9, offsets=(-127, 5), shifts=(-16, -12), extremes=True),
        # Five rows per block: last blocks of 1 to 4 rows, first loop turns of 1 to 7 groups entered
        # in the loop's middle, one whole turn then more.
        _fc(rng, "fc-5-rows-last-block-1-first-turn-3", 1, 12, 11, per_channel=False),
        _fc(rng, "fc-5-rows-last-block-2-first-turn-5", 2, 52, 12),
        _fc(rng, "fc-5-rows-last-block-3-first-turn-6", 1, 24, 13, per_channel=False, act=(-20, 90)),
        _fc(rng, "fc-5-rows-last-block-4-first-turn-4", 1, 16, 14, offsets=(128, -128)),
        _fc(rng, "fc-5-rows-first-turn-7-then-one", 1, 60, 5, per_channel=False, offsets=(-128, 127)),
        _fc(rng, "fc-5-rows-two-turns-exactly", 1, 64, 10, offsets=(127, -127), extremes=True),
        # pointwise convolutions on ed_fully_connected_s8 (the fully connected layer they are over
        # their positions): person_detect's head over one position, three positions, a batch of two
        _conv(rng, "pw-conv-as-fc-one-position", (1, 1, 1, 256), 2, (1, 1), offsets=(128, -128),
              kernel="ed_fully_connected_s8"),
        _conv(rng, "pw-conv-as-fc-3-positions-odd-units", (1, 1, 3, 24), 13, (1, 1), offsets=(-127, 127),
              act=(-128, 40), kernel="ed_fully_connected_s8"),
        _conv(rng, "pw-conv-as-fc-batch-2-depth-not-words", (2, 1, 1, 18), 6, (1, 1), shifts=(-23, -1),
              kernel="ed_fully_connected_s8"),
        # depthwise over one input channel on ed_convolve_s8 (its convolution): micro_speech's first
        # layer's window (10 x 8, stride 2, padding on every side) and person_detect's (3 x 3 s2)
        _conv(rng, "dw-one-channel-10x8-s2-as-conv", (1, 13, 11, 1), 8, (10, 8), (2, 2), (4, 5, 3, 4),
              offsets=(128, -128), depthwise=True, kernel="ed_convolve_s8"),
        _conv(rng, "dw-one-channel-3x3-s2-m7-as-conv", (1, 9, 10, 1), 7, (3, 3), (2, 2), (0, 1, 0, 1),
              offsets=(-127, 5), act=(-100, 90), depthwise=True, kernel="ed_convolve_s8"),
    ]


def _convolve_entries(rng, rounding) -> list[KernelCase]:
    """ed_convolve_s8's block loop entered at every point: patches of 1 to 9 groups of four (every
    entry into its loops of four groups, and second turns) with 3, 4 and 5 output channels (whole
    blocks of two, with and without an odd last channel) on 9 positions (one left for the last
    pass), the clamp and output offsets at the ends of int8 (the folded
    offset less act_min at +-255), the fast path's largest shift (-18) and the next (-19, the
    per-output requantization), and accumulators at the kernel's bound."""
    cases = []
    for groups in range(1, 10):
        for cout, offsets, act in ((3, (128, 127), (127 - 90, 127)), (4, (-127, -128), (-128, 127)),
                                   (5, (0, 127), (-128, -128 + 70))):
            cases.append(_conv(rng, f"ed-conv-{groups}-groups-{cout}-channels", (1, 3, 3, 4 * groups), cout, (1, 1),
                               offsets=offsets, act=act, shifts=(-14, -1), rounding=rounding))
    for shift in (-18, -19):  # the offset less act_min at 255
        cases.append(_conv(rng, f"ed-conv-shift{shift}", (1, 2, 4, 64), 6, (1, 1), offsets=(128, 127),
                           act=(-128, 127), shifts=(shift, shift + 1), rounding=rounding))
    # accumulators at the kernel's bound, both signs, and the multipliers at the ends of [2^30, 2^31)
    x = rng.integers(-128, 128, (1, 2, 3, 8), dtype=np.int8)
    w = rng.integers(-127, 128, (6, 1, 1, 8), dtype=np.int8)
    room = ACCUMULATOR_LIMIT - 128 * int(np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)).max()) - 128 * 127 * 8
    bias = np.array([room, -room, room, -room, 7, -7], dtype=np.int32)
    mult = np.array([1 << 30, (1 << 31) - 1, (1 << 31) - 1, 1 << 30, 1 << 30, (1 << 31) - 1], dtype=np.int32)
    shift = np.array([-1, -1, -18, -18, -2, -9], dtype=np.int32)
    params = dict(input_offset=128, output_offset=-3, out_mult=mult, out_shift=shift, stride=(1, 1),
                  padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127)
    cases.append(kernel_case("ed-conv-accumulators-at-the-bound", "ed_convolve_s8", "conv2d", [x], params, weights=w,
                             bias=bias, attrs={"activation": "none"}, rounding=rounding))
    # the second channel of a pair with its products near +-2^23, the most its recovery from the
    # packed sum takes (512 weights of +-127), under first channels of every sign
    w = rng.integers(-127, 128, (4, 1, 1, 512), dtype=np.int8)
    w[1] = np.where(np.arange(512) % 3 == 0, -127, 127)
    w[3] = -w[1]
    x = rng.integers(-128, 128, (1, 2, 3, 512), dtype=np.int8)
    x[0, 0, 0] = np.where(w[1, 0, 0] > 0, 127, -128)
    x[0, 0, 1] = np.where(w[1, 0, 0] > 0, -128, 127)
    mult, _ = random_requant(rng, 4, (-1, 0))
    params = dict(input_offset=0, output_offset=1, out_mult=mult, out_shift=np.full(4, -18, dtype=np.int32),
                  stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127)
    cases.append(kernel_case("ed-conv-pair-products-at-the-bound", "ed_convolve_s8", "conv2d", [x], params, weights=w,
                             bias=np.array([5, -9, 300, 2], dtype=np.int32), attrs={"activation": "none"},
                             rounding=rounding))
    # past it: 1,152 patch elements (3 x 3 x 128), products up to +-18.7 M, so the layer is flagged
    # chunked and recovers the second channels every 512 elements (on the fast requantization's
    # shifts, which would otherwise take the Thumb-2 block loop)
    w = rng.integers(-127, 128, (3, 3, 3, 128), dtype=np.int8)
    w[1] = np.where(np.arange(1152).reshape(3, 3, 128) % 5 == 0, -127, 127)
    x = rng.integers(-128, 128, (1, 3, 4, 128), dtype=np.int8)
    x[0, :, 0:3] = np.where(w[1] > 0, 127, -128)
    x[0, :, 1:4] = np.where(w[1] > 0, -128, 127)  # output position 1 at the other extreme
    mult, _ = random_requant(rng, 3, (-1, 0))
    params = dict(input_offset=0, output_offset=-2, out_mult=mult, out_shift=np.full(3, -18, dtype=np.int32),
                  stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127)
    cases.append(kernel_case("ed-conv-pair-products-chunked", "ed_convolve_s8", "conv2d", [x], params, weights=w,
                             bias=np.array([11, -7, 40], dtype=np.int32), attrs={"activation": "none"},
                             rounding=rounding))
    return cases


def _single_rounding_cases() -> list[KernelCase]:
    """Single rounding (--rounding litert): the fully connected loop's requantization per tensor
    and per channel, with the offset and the clamp; ed_convolve_s8 on the shapes whose columns take
    the staged paths (rows not whole words: inside the input, in the padding on every side);
    ed_elementwise_add_linear_s8's single-rounding coefficients (ResNet-8's ADD, whose two
    roundings differ, and the edge cases of test_ed_elementwise)."""
    from test_ed_elementwise import ACT, _linear_cases
    rng = np.random.default_rng(1314)
    fc = [_fc(rng, "fc1-256x48", 1, 256, 48, offsets=(128, -128), rounding="single"),
          _fc(rng, "fc1-128x8-per-tensor", 1, 128, 8, per_channel=False, rounding="single"),
          _fc(rng, "fc1-60x5-per-tensor-relu", 2, 60, 5, per_channel=False, act=(0, 127), offsets=(3, -20),
              shifts=(-23, -1), rounding="single"),
          _fc(rng, "fc1-301x17-wide-shifts", 1, 301, 17, shifts=(-23, -1), rounding="single"),
          # Five rows per block: a last block of one row, a first loop turn of five groups.
          _fc(rng, "fc1-20x6-per-tensor-last-row", 2, 20, 6, per_channel=False, offsets=(-128, 127),
              rounding="single")]
    rng = np.random.default_rng(1315)
    conv = [_conv(rng, "vww-first-3x3-s2-relu6", (1, 11, 13, 3), 8, (3, 3), (2, 2), (0, 1, 0, 1),
                  offsets=(128, -128), act=(-128, 40), rounding="single"),
            _conv(rng, "ic-first-3x3-pad-1", (1, 7, 9, 3), 16, (3, 3), padding=(1, 1, 1, 1), offsets=(-127, 127),
                  rounding="single"),
            _conv(rng, "cin-5-rows-of-15-padded", (1, 7, 6, 5), 7, (3, 3), (1, 2), (1, 0, 1, 1), shifts=(-23, -1),
                  rounding="single"),
            _conv(rng, "rgb-3x3-s1-valid-zp-limits", (1, 8, 9, 3), 7, (3, 3), offsets=(128, -128), act=(-100, 60),
                  shifts=(-23, -1), rounding="single"),
            _conv(rng, "rows-of-9-kw-9-cin-1", (1, 6, 13, 1), 4, (3, 9), (1, 2), (1, 0, 2, 1), offsets=(-127, 127),
                  rounding="single"),
            _conv(rng, "dw-one-channel-3x3-s2-as-conv", (1, 9, 10, 1), 8, (3, 3), (2, 2), (0, 1, 0, 1),
                  offsets=(-127, 5), depthwise=True, kernel="ed_convolve_s8", rounding="single")]
    linear = _linear_cases(lambda name, kernel, op, inputs, params: kernel_case(
        name, kernel, op, inputs, params, attrs=ACT, rounding="single"), np.random.default_rng(1316))
    return fc + conv + linear


def _fused_add_cases(rng, rounding) -> list[KernelCase]:
    """ed_convolve_add_s8 and ed_convolve_winograd_add_s8: a convolution with a ResNet-style ADD
    fused after it (the convolution's output as the ADD's first or second input, with and without
    the ADD's ReLU), on positions that are not a multiple of the sixteen (eight) staged per ADD
    call, a batch of two, an odd channel count, and channels off the fast requantization (the
    general loop writes the staged outputs too)."""
    layers = [  # name, input, cout, window, stride, padding, slot, the ADD's activation, shifts
        ("add-3x3-relu", (1, 7, 9, 8), 8, (3, 3), (1, 1), (1, 1, 1, 1), 0, "relu", (-10, 0)),
        ("add-1x1-s2-second", (1, 8, 8, 12), 20, (1, 1), (2, 2), (0, 0, 0, 0), 1, "none", (-10, 0)),
        ("add-odd-channels-batch-2", (2, 5, 7, 5), 7, (3, 3), (1, 1), (1, 1, 1, 1), 0, "relu", (-10, 0)),
        ("add-general-loop", (1, 4, 5, 8), 6, (3, 3), (1, 1), (1, 1, 1, 1), 1, "relu", (-23, -1)),
    ]
    cases = []
    for name, shape, cout, window, stride, padding, slot, activation, shifts in layers:
        x = rng.integers(-128, 128, shape, dtype=np.int8)
        w = rng.integers(-127, 128, (cout, *window, shape[3]), dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout).astype(np.int32)
        mult, shift = random_requant(rng, cout, shifts)
        out_h = (shape[1] + padding[0] + padding[1] - window[0]) // stride[0] + 1
        out_w = (shape[2] + padding[2] + padding[3] - window[1]) // stride[1] + 1
        skip = rng.integers(-128, 128, (shape[0], out_h, out_w, cout), dtype=np.int8)
        params = dict(input_offset=3, output_offset=-5, out_mult=mult, out_shift=shift, stride=stride,
                      padding=padding, dilation=(1, 1), act_min=-128, act_max=127)
        for kernel, tag in (("ed_convolve_add_s8", ""), ("ed_convolve_winograd_add_s8", "-winograd")):
            cases.append(kernel_case(f"{name}{tag}-{rounding}", kernel, "conv2d", [x], params, weights=w,
                                     bias=bias, attrs={"activation": "none"}, rounding=rounding,
                                     epilogue=("add", {"activation": activation}),
                                     residual=(slot, skip, 0.7, -3, 1.3, 5)))
    return cases


@pytest.fixture(scope="module")
def runs(qemu_arm, tmp_path_factory):
    """Every case set of this file in one image per path and rounding (four builds in all): the
    network shapes and edges, and the block loop's entries, in the rounding of each image."""
    sets = {"double": _cases() + _convolve_entries(np.random.default_rng(1315), "double")
            + _fused_add_cases(np.random.default_rng(1317), "double"),
            "single": _single_rounding_cases() + _convolve_entries(np.random.default_rng(1315), "single")
            + _fused_add_cases(np.random.default_rng(1317), "single")}
    out = {}
    for rounding, cases in sets.items():
        for path in ("dsp", "portable"):
            elf = build_qemu(cases, tmp_path_factory.mktemp(f"ed-kernels-{path}-{rounding}"), path=path,
                             rounding=rounding)
            out[path, rounding] = cases, run_qemu(elf, cases)
    return out


@pytest.mark.parametrize("rounding", ["double", "single"])
@pytest.mark.parametrize("path", ["dsp", "portable"])
def test_ed_kernels_bit_exact_on_cortex_m4(runs, path, rounding):
    cases, run = runs[path, rounding]
    for case, output, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, f"{case.name}: kernel returned an error status"
        np.testing.assert_array_equal(output, case.expected, err_msg=f"{path} path, {rounding} rounding, {case.name}")


def test_ed_kernels_simd_path_is_faster(runs):
    """The Thumb-2 loops must beat the portable C on the networks' shapes (where they run)."""
    (cases, dsp), (_, portable) = runs["dsp", "double"], runs["portable", "double"]
    for i, case in enumerate(cases):
        if case.name in ("dw-vww-3x3-s1", "dw3-vww-3x3-s1", "pw-vww-1x1", "resnet-3x3-s1", "fc-ad-640x128"):
            assert dsp.cycles[i] < portable.cycles[i], case.name


def test_a_depthwise_layer_over_one_input_channel_is_chosen_as_its_convolution():
    """A depthwise layer over one input channel (micro_speech's and person_detect's first layers,
    channel multiplier 8) is a convolution with 8 output channels: its weight rows are the
    conv's (one row of kh x kw taps per output channel), the choice puts it on ed_convolve_s8,
    and a depthwise layer over more channels is refused with the reason."""
    from edge_deploy.kernels import get_kernel
    from edge_deploy.kernels._layers import depthwise
    from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
    from edge_deploy.testing.random_layers import random_case

    rng = np.random.default_rng(7)
    layer = {"in": [(1, 49, 40, 1)], "w": (1, 10, 8, 8), "op": "depthwise_conv2d",
             "attrs": {"stride": (2, 2), "dilation": (1, 1), "padding": "same", "depth_multiplier": 8}}
    one = random_case(rng, "ed_depthwise_conv_s8", layer)
    w = np.asarray(one.call.weights.data)  # (1, kh, kw, 8)
    rows = one.call.weight_rows
    assert rows.shape == (8, 80) and np.array_equal(rows[3], w[0, :, :, 3].reshape(-1))
    assert [c.kernel.name for c in choose_kernels(one.call.graph, KernelPolicy())] == ["ed_convolve_s8"]
    many = random_case(rng, "ed_depthwise_conv_s8", {**depthwise(12, 12, 4, 2, 3, 1, "same"), "op": "depthwise_conv2d"})
    assert "over 4 input channels" in get_kernel("ed_convolve_s8").applies(many.call)


def test_a_pointwise_convolution_runs_as_its_fully_connected_layer_where_that_is_cheaper(qemu_arm, tmp_path):
    """A 1 x 1 convolution over one position (person_detect's head, 256 -> 2) is a fully connected
    layer: ed_fully_connected_s8 serves it (the convolution kernels' four positions per pass would
    compute the one position four times), bit-exact through the build on QEMU; one with padding
    or a stride between positions is refused with the reason. Over nine positions it applies, and
    the price at the board's flash decides (test_the_kernel_choice_follows_the_boards_flash)."""
    from edge_deploy.kernels import get_kernel
    from edge_deploy.kernels._layers import conv2d
    from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
    from edge_deploy.kernels.cost import estimate_cycles
    from edge_deploy.testing.random_layers import random_case
    from op_checks import int8_batch, qemu_check

    rng = np.random.default_rng(9)
    fc = get_kernel("ed_fully_connected_s8")
    head = random_case(rng, "ed_convolve_s8", {**conv2d(1, 1, 256, 2, 1, 1, "valid"), "op": "conv2d"})
    assert [c.kernel.name for c in choose_kernels(head.call.graph, KernelPolicy())] == ["ed_fully_connected_s8"]
    assert estimate_cycles(fc, head.call) < 0.7 * estimate_cycles(get_kernel("ed_convolve_s8"), head.call)
    strided = random_case(rng, "ed_convolve_s8", {**conv2d(6, 6, 16, 8, 1, 2, "valid"), "op": "conv2d"})
    assert "padding or a stride" in fc.applies(strided.call)
    onto_one = random_case(rng, "ed_convolve_s8", {"in": [(1, 1, 2, 16)], "w": (8, 1, 1, 16), "op": "conv2d",
                                                   "attrs": {"stride": (2, 2), "dilation": (1, 1), "padding": "valid"}})
    assert onto_one.call.output.shape[1:3] == (1, 1) and "padding or a stride" in fc.applies(onto_one.call)
    window = random_case(rng, "ed_convolve_s8", {**conv2d(6, 6, 16, 8, 3, 1, "same"), "op": "conv2d"})
    assert fc.applies(window.call) == "not a 1 x 1 convolution"
    nine = random_case(rng, "ed_convolve_s8", {**conv2d(3, 3, 32, 8, 1, 1, "valid"), "op": "conv2d"})
    assert fc.applies(nine.call) is None
    three = random_case(rng, "ed_convolve_s8", {**conv2d(1, 3, 64, 10, 1, 1, "valid"), "op": "conv2d"})
    assert fc.applies(three.call) is None
    graph = random_case(rng, "ed_convolve_s8", {**conv2d(1, 1, 96, 5, 1, 1, "valid"), "op": "conv2d"}).call.graph
    report = qemu_check(graph, int8_batch(rng, graph, 3), tmp_path)
    assert [layer["kernel"] for layer in report["layers"]] == ["ed_fully_connected_s8"]


def test_the_kernel_choice_follows_the_boards_flash(qemu_arm, tmp_path):
    """person_detect's last pointwise layer (3 x 3 positions, 128 -> 256): at 0 wait states
    ed_fully_connected_s8 is priced cheapest, at the L4R5's flash (its weights read once per
    position through an 8-line data cache) a convolution kernel is. Both kernels measured on QEMU
    at both timings: each choice is the one measured faster there, and each estimate is within 8 %
    of its measurement."""
    from edge_deploy.boards import load_board
    from edge_deploy.kernels import get_kernel
    from edge_deploy.kernels._layers import conv2d
    from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
    from edge_deploy.kernels.cost import estimate_cycles
    from edge_deploy.testing.harness import build_qemu, run_qemu
    from edge_deploy.testing.random_layers import random_case

    layer = {**conv2d(3, 3, 128, 256, 1, 1, "valid"), "op": "conv2d"}
    l4r5 = load_board("nucleo-l4r5zi").flash
    chosen = {}
    for name, flash in (("0 wait states", None), ("L4R5", l4r5)):
        graph = random_case(np.random.default_rng(12), "ed_convolve_s8", layer).call.graph
        chosen[name] = choose_kernels(graph, KernelPolicy(flash=flash))[0].kernel.name
    assert chosen["0 wait states"] == "ed_fully_connected_s8" and chosen["L4R5"] != "ed_fully_connected_s8"
    names = sorted({*chosen.values()})
    cases = [random_case(np.random.default_rng(12), name, layer) for name in names]
    elf = build_qemu(cases, tmp_path)
    for timing, flash in (("0 wait states", None), ("L4R5", l4r5)):
        run = run_qemu(elf, cases, flash=flash)
        assert all(np.array_equal(out, case.expected) for out, case in zip(run.outputs, cases))
        measured = dict(zip(names, run.cycles))
        assert min(measured, key=measured.get) == chosen[timing], (timing, measured)
        for case in cases:
            estimate = estimate_cycles(get_kernel(case.kernel.name), case.call, flash)
            assert abs(estimate / measured[case.kernel.name] - 1) < 0.08, (timing, case.kernel.name, estimate)


def test_a_depthwise_layer_over_one_input_channel_runs_as_a_convolution_in_firmware(qemu_arm, tmp_path):
    """The same through the build (the generated call, its filter dims those of the convolution):
    a one-channel input fanned out to 8 channels by a 10 x 8 stride-2 window with 'same' padding,
    built for mps2-an386 and run on QEMU with run --check, 0 mismatches, on ed_convolve_s8."""
    from edge_deploy.testing.random_layers import random_case
    from op_checks import int8_batch, qemu_check

    rng = np.random.default_rng(8)
    layer = {"in": [(1, 25, 20, 1)], "w": (1, 10, 8, 8), "op": "depthwise_conv2d",
             "attrs": {"stride": (2, 2), "dilation": (1, 1), "padding": "same", "depth_multiplier": 8}}
    graph = random_case(rng, "ed_depthwise_conv_s8", layer).call.graph
    report = qemu_check(graph, int8_batch(rng, graph, 3), tmp_path)
    assert [layer["kernel"] for layer in report["layers"]] == ["ed_convolve_s8"]
