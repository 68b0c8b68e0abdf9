"""Channels with all-zero weights (batch norm folded over a dead channel) output a constant; the
weighted ops give them a multiplier and shift on the C kernels' fast requantization instead of
their own tiny scale, with the output unchanged bit for bit in both roundings."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.numerics.fixedpoint import ROUNDING_MODES
from edge_deploy.ops._shared import FAST_REQUANT_SHIFTS, constant_channels_on_fast_path, requantize
from mlperf_data import MISSING, MLPERF


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
                assert int(s2[c]) in FAST_REQUANT_SHIFTS and m2[c] > 0, (c, bias[c], m2[c], s2[c])
                moved += 1
    assert moved > 2 * n  # nearly every dead channel moved (the roundings rarely disagree)


def test_vww_layers_are_all_on_the_fast_path():
    from edge_deploy.ops import get_op
    from edge_deploy.tflite import load_tflite

    model = MLPERF / "vww_96_int8.tflite"
    if not model.is_file():
        pytest.skip(MISSING)
    graph = load_tflite(model)
    weighted = [op for op in graph.ops if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected")]
    for op in weighted:
        params = get_op(op.kind).kernel_params(graph, op)
        shifts, mults = np.asarray(params["out_shift"]), np.asarray(params["out_mult"])
        assert np.all((shifts >= FAST_REQUANT_SHIFTS.start) & (shifts < FAST_REQUANT_SHIFTS.stop) & (mults >= 0)), op.name
