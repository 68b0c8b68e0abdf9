"""gemmlowp's 16-bit fixed-point logistic and tanh, vectorised over NumPy arrays.

TFLite's full-integer LSTM (the "8x8->16" kernel) applies its gate activations to int16 values
with gemmlowp's ``FixedPoint<int16_t, N>`` functions: the sigmoid of a Q3.12 gate, the tanh of a
Q3.12 cell gate and the tanh of the cell state with ``15 + log2(cell scale)`` integer bits, each
returning Q0.15. This module computes the same raw int16 results: every operation is gemmlowp's
on int16 (additions wrap as C's int16 conversion does, multiplications are the saturating
rounding doubling high multiply, rescales the saturating / rounding multiply by a power of two),
so ``logistic_q015`` and ``tanh_q015`` equal the C (``ed_fixedpoint16.h``) on every input.
Values are held in int64 arrays.
"""

from __future__ import annotations

import numpy as np

Q15_ONE = 32767  # FixedPoint<int16_t, 0>::One(): the largest raw value


def _wrap(x) -> np.ndarray:
    """int16 two's complement wrap (a C int computed from int16 operands, stored back)."""
    return ((np.asarray(x, dtype=np.int64) + 32768) & 0xFFFF) - 32768


def _high_mul(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul on int16: ``round(a * b / 2**15)``, -1 * -1 saturated."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    num = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.where(num >= 0, num >> 15, -((-num) >> 15))  # C division truncates toward zero
    return np.where((a == -32768) & (b == -32768), 32767, _wrap(q))


def rounding_divide_by_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT (round half away from zero) on int64 values."""
    x = np.asarray(x, dtype=np.int64)
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def _mul_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT on int16: a saturating left or a rounding right shift."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return _wrap(rounding_divide_by_pot(x, -exponent))
    threshold = (1 << (15 - exponent)) - 1
    return np.where(x > threshold, 32767, np.where(x < -threshold, -32768, _wrap(x << exponent)))


def _constant(raw32: int) -> int:
    """A gemmlowp constant written as an int32 raw value, rounded to int16 (shifted by 16)."""
    return int(rounding_divide_by_pot(np.int64(raw32), 16))


def _exp_quarter(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.15 in and out (Taylor series around -1/8)."""
    term = _constant(1895147668)
    third = _constant(715827883)
    x = _wrap(a + (1 << 12))
    x2 = _high_mul(x, x)
    x3 = _high_mul(x2, x)
    x4 = _high_mul(x2, x2)
    poly = _mul_pot(_wrap(_high_mul(_wrap(_mul_pot(x4, -2) + x3), third) + x2), -1)
    return np.clip(term + _high_mul(term, _wrap(x + poly)), -32768, 32767)


# exp(-2**k) as gemmlowp's int32 constants, for the barrel shifter over the integer bits.
_EXP_STEPS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
              (3, 720401), (4, 242))


def _exp_negative(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 with ``integer_bits`` integer bits, Q0.15 out."""
    if not 0 <= integer_bits <= 6:
        raise ValueError(f"exp_on_negative_values: {integer_bits} integer bits; 0..6 are implemented")
    a = np.asarray(a, dtype=np.int64)
    frac = 15 - integer_bits
    quarter = 1 << (frac - 2)
    rem_minus_quarter = _wrap((a & (quarter - 1)) - quarter)
    result = _exp_quarter(_mul_pot(rem_minus_quarter, integer_bits))
    remainder = _wrap(rem_minus_quarter - a)
    for exponent, multiplier in _EXP_STEPS:
        if integer_bits > exponent:
            bit = 1 << (frac + exponent)
            result = np.where((remainder & bit) != 0, _high_mul(result, _constant(multiplier)), result)
    if integer_bits > 5:  # below -32 the result is 0 (the barrel shifter stops at 2**4)
        result = np.where(a < -(1 << (20 - integer_bits)), 0, result)
    return np.where(a == 0, Q15_ONE, result)


def _newton_reciprocal(a):
    """The Newton-Raphson iterate for 2 / (1 + a), a in Q0.15, result in Q2.13 (and ``1 + a`` halved)."""
    half_denominator = _wrap(np.where(a + Q15_ONE >= 0, (a + Q15_ONE + 1) // 2, -((-(a + Q15_ONE - 1)) // 2)))
    x = _wrap(_constant(1515870810) + _high_mul(half_denominator, _constant(-1010580540)))
    for _ in range(3):
        one_minus = _wrap((1 << 13) - _high_mul(half_denominator, x))
        x = _wrap(x + _mul_pot(_high_mul(x, one_minus), 2))
    return x


def logistic_q015(x, integer_bits: int = 3) -> np.ndarray:
    """gemmlowp ``logistic(FixedPoint<int16_t, integer_bits>)``: raw int16 in, Q0.15 raw out."""
    x = np.asarray(x, dtype=np.int64)
    positive = x > 0
    magnitude = np.where(positive, x, _wrap(-x))
    on_positive = _mul_pot(_newton_reciprocal(_exp_negative(_wrap(-magnitude), integer_bits)), 1)
    on_negative = _wrap(Q15_ONE - on_positive)
    return np.where(x == 0, 1 << 14, np.where(positive, on_positive, on_negative))


def tanh_q015(x, integer_bits: int) -> np.ndarray:
    """gemmlowp ``tanh(FixedPoint<int16_t, integer_bits>)``: raw int16 in, Q0.15 raw out."""
    x = np.asarray(x, dtype=np.int64)
    negative = x < 0
    neg_magnitude = np.where(negative, x, _wrap(-x))
    t = _mul_pot(_wrap(_newton_reciprocal(_exp_negative(neg_magnitude, integer_bits + 1)) - (1 << 13)), 2)
    return np.where(x == 0, 0, np.where(negative, _wrap(-t), t))
