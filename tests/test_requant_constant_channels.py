"""Channels with all-zero weights (batch norm folded over a dead channel) output a constant; the
weighted ops give them a multiplier and shift on the C kernels' fast requantization instead of
their own tiny scale, with the output unchanged bit for bit in both roundings."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.numerics.fixedpoint import ROUNDING_MODES
from edge_deploy.ops._shared import constant_channels_on_fast_path, requantize
from mlperf_data import MISSING, MLPERF

# The right shifts of the C kernels' shared fast requantization (ed_requant_out_prepare,
# firmware/kernels/ed_nn_support.h), with a non-negative multiplier.
SHARED_FAST_SHIFTS = range(-23, 0)


def _outputs(acc, m, s, offset, lo, hi):
    return [requantize(acc, m, s, offset, lo, hi, r).astype(int) for r in ROUNDING_MODES]


def test_dead_channels_move_to_the_fast_path_with_the_same_outputs():
    rng = np.random.default_rng(17)
    n = 400
    # Biases as batch norm leaves them on dead channels (near +-2^30) and anywhere in int32.
    bias = np.where(rng.random(n) < 0.5, rng.choice([-1, 1], n) * (2**30 + rng.integers(-256, 257, n)),
                    rng.integers(-2**31, 2**31, n)).astype(np.int64)
    mults = rng.integers(2**30, 2**31, n).astype(np.int32)
    shifts = rng.integers(-31, -23, n).astype(np.int32)  # all off the fast path
    mults[:20], shifts[:20] = 0, 0  # a zero scale: quantize_multiplier(0) = (0, 0)
    weights = np.zeros((n, 9), dtype=np.int8)
    weights[-10:, 3] = 5  # live channels: never touched
    moved = 0
    for offset, lo, hi in ((-128, -128, 127), (5, 5, 127), (-20, -128, 40)):
        m2, s2 = constant_channels_on_fast_path(weights, bias, mults, shifts, offset, lo, hi)
        assert np.array_equal(m2[-10:], mults[-10:]) and np.array_equal(s2[-10:], shifts[-10:])
        for c in range(n):
            before = _outputs(bias[c], int(mults[c]), int(shifts[c]), offset, lo, hi)
            after = _outputs(bias[c], int(m2[c]), int(s2[c]), offset, lo, hi)
            assert before == after, (c, bias[c], mults[c], shifts[c], m2[c], s2[c])
            if before[0] == before[1] and c < n - 10:
                assert int(s2[c]) in SHARED_FAST_SHIFTS and m2[c] > 0, (c, bias[c], m2[c], s2[c])
                moved += 1
    assert moved > 2 * n  # nearly every dead channel moved (the roundings rarely disagree)


def test_vww_layers_are_all_on_the_fast_path():
    """Every weighted layer of VWW on the shared fast requantization, and every convolution on
    ed_convolve_s8's own (a normalized multiplier, shifts of 1 to 18), where one channel off it
    would send the whole layer to the general C loop."""
    from edge_deploy.kernels.base import LayerCall
    from edge_deploy.kernels.ed_convolve_s8 import KERNEL, on_fast_path
    from edge_deploy.ops import get_op
    from edge_deploy.tflite import load_tflite

    model = MLPERF / "vww_96_int8.tflite"
    if not model.is_file():
        pytest.skip(MISSING)
    graph = load_tflite(model)
    weighted = [op for op in graph.ops if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected")]
    convolutions = 0
    for op in weighted:
        params = get_op(op.kind).kernel_params(graph, op)
        shifts, mults = np.asarray(params["out_shift"]), np.asarray(params["out_mult"])
        assert np.all(np.isin(shifts, SHARED_FAST_SHIFTS) & (mults >= 0)), op.name
        call = LayerCall(graph, op, params)
        if op.kind == "conv2d" and KERNEL.applies(call) is None:
            arrays = {a.name: a.values for a in KERNEL.context(call).arrays}
            assert all(on_fast_path(int(m), int(s)) for m, s in zip(arrays["out_mult"], arrays["out_shift"])), op.name
            convolutions += 1
    assert convolutions == 14


@pytest.mark.qemu
def test_a_live_channel_off_the_fast_path_is_priced_and_chosen_around(qemu_arm, tmp_path):
    """A channel with weights whose requantization is off ed_convolve_s8's fast path (a shift near
    -23) sends every block of the layer to the kernel's general loop, which requantizes each
    output in C: the cost model prices it (general_outputs), within 5 % of QEMU's cycles where
    pricing only the block loop would be about half, so the choice of a 1x1 layer goes to
    ed_pointwise_conv_s8, which requantizes that channel on its own and is faster there, while the
    same layer with every channel on the fast path stays on ed_convolve_s8."""
    from edge_deploy.kernels._layers import conv2d
    from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
    from edge_deploy.kernels.cost import estimate_cycles
    from edge_deploy.testing.harness import build_qemu, run_qemu
    from edge_deploy.testing.random_layers import random_case

    def case(kernel, slow):
        return random_case(np.random.default_rng(5), kernel, conv2d(24, 24, 32, 32, 1, 1, "valid", slow_channel=slow),
                           name=f"{kernel}-{'slow' if slow else 'fast'}")

    cases = [case("ed_convolve_s8", False), case("ed_convolve_s8", True), case("ed_pointwise_conv_s8", True)]
    run = run_qemu(build_qemu(cases, tmp_path, path="dsp"), cases)
    for c, out in zip(cases, run.outputs):
        np.testing.assert_array_equal(out, c.expected, err_msg=c.name)
    fast, slow, pointwise = run.cycles
    assert slow > 1.5 * fast  # the general loop is real
    for c, cycles in zip(cases, run.cycles):
        assert abs(estimate_cycles(c.kernel, c.call) / cycles - 1) < 0.05, c.name
    assert pointwise < slow
    chosen = {name: [layer.kernel.name for layer in choose_kernels(c.call.graph, KernelPolicy())]
              for name, c in (("fast", cases[0]), ("slow", cases[1]))}
    assert chosen == {"fast": ["ed_convolve_s8"], "slow": ["ed_pointwise_conv_s8"]}
