"""edge_deploy.numerics.fixedpoint against exact rational arithmetic in Python integers."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.numerics.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

int32 = st.integers(INT32_MIN, INT32_MAX)


def round_half_up(value: Fraction) -> int:
    return (value + Fraction(1, 2)).__floor__()


def round_half_away(value: Fraction) -> int:
    whole = int(abs(value) + Fraction(1, 2))
    return whole if value >= 0 else -whole


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-12, 1e9, allow_nan=False))
def test_quantize_multiplier_is_q31_and_close(real):
    mult, shift = quantize_multiplier(real)
    if mult == 0:
        assert real < 2.0**-31
        return
    if shift == 30 and mult == INT32_MAX:
        assert real >= 2.0**30
        return
    assert 2**30 <= mult < 2**31
    # One Q31 step of relative error at most.
    assert abs(Fraction(mult, 2**31) * Fraction(2) ** shift - Fraction(real)) <= Fraction(real) * Fraction(1, 2**30)


def test_quantize_multiplier_edges():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (2**30, 0)
    assert quantize_multiplier(1.0) == (2**30, 1)
    assert quantize_multiplier(2.0**-40) == (0, 0)  # below 2**-31: flushed to zero
    # A fraction that rounds up to 2**31 renormalises instead of overflowing.
    assert quantize_multiplier(1.0 - 2.0**-34) == (2**30, 1)
    with pytest.raises(ValueError):
        quantize_multiplier(-1.0)


@settings(max_examples=500, deadline=None)
@given(int32, int32)
def test_srdhm_is_the_rounded_doubled_high_product(a, b):
    got = int(saturating_rounding_doubling_high_mul(np.int64(a), np.int64(b)))
    if a == b == INT32_MIN:
        assert got == INT32_MAX
    else:
        assert got == round_half_up(Fraction(a * b, 2**31))  # gemmlowp: ties go up


@settings(max_examples=500, deadline=None)
@given(int32, st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away(x, exponent):
    assert int(rounding_divide_by_pot(np.int64(x), exponent)) == round_half_away(Fraction(x, 2**exponent))


@settings(max_examples=500, deadline=None)
@given(st.integers(-(2**24), 2**24), st.floats(2.0**-30, 100.0))
def test_single_rounding_is_one_rounding(x, real):
    mult, shift = quantize_multiplier(real)
    exact = Fraction(x * mult, 2 ** (31 - shift))
    got = int(multiply_by_quantized_multiplier(np.int64(x), mult, shift, "single"))
    assert got == int((exact + Fraction(1, 2)).__floor__())  # half up


@settings(max_examples=500, deadline=None)
@given(st.integers(-(2**24), 2**24), st.floats(2.0**-30, 1.0))
def test_double_rounding_rounds_twice(x, real):
    mult, shift = quantize_multiplier(real)
    left, right = max(shift, 0), max(-shift, 0)
    high = round_half_up(Fraction(x * 2**left * mult, 2**31))
    got = int(multiply_by_quantized_multiplier(np.int64(x), mult, shift, "double"))
    assert got == round_half_away(Fraction(high, 2**right))


def test_double_and_single_rounding_differ_somewhere():
    x = np.arange(-5000, 5000, dtype=np.int64)
    mult, shift = quantize_multiplier(0.3)
    double = multiply_by_quantized_multiplier(x, mult, shift, "double")
    single = multiply_by_quantized_multiplier(x, mult, shift, "single")
    assert np.max(np.abs(double - single)) == 1 and np.any(double != single)


def test_per_channel_broadcast_matches_scalar_calls():
    rng = np.random.default_rng(0)
    acc = rng.integers(-(2**20), 2**20, (5, 4))
    pairs = [quantize_multiplier(r) for r in (0.001, 0.02, 0.5, 3.0)]
    mults, shifts = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    vector = multiply_by_quantized_multiplier(acc, mults, shifts)
    for c, (m, s) in enumerate(pairs):
        assert np.array_equal(vector[:, c], multiply_by_quantized_multiplier(acc[:, c], m, s))


def test_unknown_rounding_mode_is_rejected():
    with pytest.raises(ValueError, match="rounding"):
        multiply_by_quantized_multiplier(np.int64(1), 2**30, 0, "banker")
