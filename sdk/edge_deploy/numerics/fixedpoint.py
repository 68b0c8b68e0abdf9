"""TFLite / CMSIS-NN fixed-point arithmetic, vectorised over NumPy int64 arrays.

Every function here reproduces, bit for bit, the integer maths of the TFLite int8 scheme
(METHODS.md section 6): a real multiplier is held as a Q31 ``int32`` multiplier and a power-of-two
shift, and an ``int32`` accumulator is requantized either with

* ``rounding="double"`` (default; TFLM and CMSIS-NN): a saturating rounding doubling high multiply,
  then a rounding divide by a power of two; or
* ``rounding="single"``: one 64-bit product, one rounding right shift (TFLite built with single
  rounding, CMSIS-NN with ``CMSIS_NN_USE_SINGLE_ROUNDING``).

Arrays are computed in ``int64`` so intermediate products never overflow; results that C would
hold in ``int32`` are wrapped or saturated exactly as the C code does.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Rounding = Literal["double", "single"]
ROUNDING_MODES: tuple[str, ...] = ("double", "single")

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Split a non-negative real multiplier into TFLite's ``(int32 multiplier, shift)``.

    ``real ~= multiplier * 2**(shift - 31)`` with ``multiplier`` in ``[2**30, 2**31)`` (or 0).
    A positive shift is a left shift. Follows TFLite's ``QuantizeMultiplier``: ``frexp``, round half
    away from zero, renormalise on rounding up to ``2**31``, flush below ``2**-31`` to zero and
    clamp shifts above 30.

    Raises ValueError for a negative or non-finite multiplier.
    """
    real = float(real_multiplier)
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"a quantized multiplier must be finite and >= 0, got {real_multiplier!r}")
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q_fixed = round_half_away(fraction * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return int(q_fixed), int(shift)


def quantize_multiplier_array(real_multipliers) -> tuple[np.ndarray, np.ndarray]:
    """Apply :func:`quantize_multiplier` to each element; returns ``(int32 mults, int32 shifts)``."""
    reals = np.asarray(real_multipliers, dtype=np.float64).reshape(-1)
    pairs = [quantize_multiplier(r) for r in reals]
    mults = np.array([p[0] for p in pairs], dtype=np.int32)
    shifts = np.array([p[1] for p in pairs], dtype=np.int32)
    return mults, shifts


def round_half_away(value: float) -> int:
    """C's ``std::round``: halves go away from zero (Python's ``round()`` goes to even)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def wrap_int32(x) -> np.ndarray:
    """Wrap int64 values to int32 two's complement (what C does on int32 overflow)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def _trunc_div_pow2(x: np.ndarray, bits: int) -> np.ndarray:
    # Integer division by 2**bits rounding toward zero, like C's '/' on signed values.
    return np.where(x >= 0, x >> bits, -((-x) >> bits))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul on int32 values held in int64 arrays.

    Returns ``round(a * b / 2**31)`` (ties toward +infinity), saturating the one overflowing case
    ``a == b == INT32_MIN`` to ``INT32_MAX``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    high = _trunc_div_pow2(ab + nudge, 31)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, np.int64(INT32_MAX), high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero.

    ``exponent`` (0..31) may be an array broadcast against ``x``.
    """
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> exponent) + (remainder > threshold).astype(np.int64)


def saturating_left_shift(x, exponent: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent on int32 values."""
    x = np.asarray(x, dtype=np.int64)
    threshold = (1 << (31 - exponent)) - 1
    out = x << exponent
    out = np.where(x > threshold, np.int64(INT32_MAX), out)
    return np.where(x < -threshold, np.int64(INT32_MIN), out)


def multiply_by_quantized_multiplier(x, multiplier, shift, rounding: Rounding = "double") -> np.ndarray:
    """Requantize int32 accumulators: ``x * multiplier * 2**(shift - 31)``, rounded as TFLite does.

    ``x``, ``multiplier`` and ``shift`` broadcast against each other (per-channel multipliers and
    shifts go on the last axis of an NHWC accumulator). ``rounding`` is ``"double"`` (TFLM and
    CMSIS-NN default: SaturatingRoundingDoublingHighMul of ``x << max(shift, 0)`` then
    RoundingDivideByPOT by ``max(-shift, 0)``; the left shift wraps in int32 as in C) or
    ``"single"`` (one 64-bit multiply and one rounding shift by ``31 - shift``).
    Returns an int64 array of int32-range values.

    Raises ValueError for an unknown rounding mode.
    """
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if rounding == "double":
        left = np.maximum(shift, 0)
        right = np.maximum(-shift, 0)
        shifted = wrap_int32(x << left)
        return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)
    if rounding == "single":
        total_shift = 31 - shift
        rounder = np.int64(1) << (total_shift - 1)
        return wrap_int32((x * multiplier + rounder) >> total_shift)
    raise ValueError(f"unknown rounding mode {rounding!r}; expected one of {ROUNDING_MODES}")


def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplierGreaterThanOne (softmax input scaling)."""
    x = np.asarray(x, dtype=np.int64)
    return saturating_rounding_doubling_high_mul(wrap_int32(x << int(left_shift)), multiplier)


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: like :func:`quantize_multiplier`, shift <= 0.

    Raises ValueError if the multiplier is not in ``[0, 1)``.
    """
    if not 0.0 <= real_multiplier < 1.0:
        raise ValueError(f"expected a multiplier in [0, 1), got {real_multiplier!r}")
    return quantize_multiplier(real_multiplier)


def quantize_multiplier_greater_than_one(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierGreaterThanOne: ``(multiplier, left_shift >= 0)``.

    Raises ValueError if the multiplier is not above 1.
    """
    if not real_multiplier > 1.0:
        raise ValueError(f"expected a multiplier above 1, got {real_multiplier!r}")
    return quantize_multiplier(real_multiplier)


def saturate(x, low: int, high: int, dtype=np.int8) -> np.ndarray:
    """Clamp ``x`` to ``[low, high]`` and cast to ``dtype``."""
    return np.clip(np.asarray(x, dtype=np.int64), low, high).astype(dtype)
