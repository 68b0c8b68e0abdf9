/*
 * ed_fixedpoint16.h - gemmlowp's 16-bit fixed-point sigmoid and tanh, which TFLite's integer
 * LSTM applies to its int16 gates and cell state. Written for edge-deploy from gemmlowp's
 * algorithms (exp on [-1/4, 0) by a Taylor series around -1/8, a barrel shifter over the
 * integer bits, three Newton-Raphson steps for 1 / (1 + x)); every operation is gemmlowp's on
 * int16: sums wrap as int16, products are the saturating rounding doubling high multiply.
 * The Python twin is edge_deploy/numerics/fixedpoint16.py.
 */
#ifndef ED_FIXEDPOINT16_H
#define ED_FIXEDPOINT16_H

#include <stdint.h>

static inline int16_t ed_q16_wrap(int32_t x)
{
    return (int16_t)(uint16_t)(uint32_t)x;
}

/* SaturatingRoundingDoublingHighMul on int16. */
static inline int16_t ed_q16_mul(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN)
    {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return ed_q16_wrap((ab + nudge) / (1 << 15));
}

/* RoundingDivideByPOT, rounding half away from zero. */
static inline int32_t ed_q16_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u);
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

/* SaturatingRoundingMultiplyByPOT on int16: a saturating left or rounding right shift. */
static inline int16_t ed_q16_mul_pot(int16_t x, int32_t exponent)
{
    if (exponent < 0)
    {
        return ed_q16_wrap(ed_q16_divide_by_pot(x, -exponent));
    }
    const int32_t threshold = (1 << (15 - exponent)) - 1;
    if (x > threshold)
    {
        return INT16_MAX;
    }
    if (x < -threshold)
    {
        return INT16_MIN;
    }
    return ed_q16_wrap((int32_t)((uint32_t)(int32_t)x << exponent));
}

/* A gemmlowp constant given as its int32 raw value, rounded to int16. */
#define ED_Q16_CONSTANT(raw32) ((int16_t)(((int32_t)(raw32) + (1 << 15) - ((int32_t)(raw32) < 0 ? 1 : 0)) >> 16))

/* exp(a) for a in [-1/4, 0), Q0.15. */
static inline int16_t ed_q16_exp_quarter(int16_t a)
{
    const int16_t term = ED_Q16_CONSTANT(1895147668);
    const int16_t third = ED_Q16_CONSTANT(715827883);
    const int16_t x = ed_q16_wrap(a + (1 << 12));
    const int16_t x2 = ed_q16_mul(x, x);
    const int16_t x3 = ed_q16_mul(x2, x);
    const int16_t x4 = ed_q16_mul(x2, x2);
    const int16_t sum = ed_q16_wrap(ed_q16_mul_pot(x4, -2) + x3);
    const int16_t poly = ed_q16_mul_pot(ed_q16_wrap(ed_q16_mul(sum, third) + x2), -1);
    const int32_t result = term + ed_q16_mul(term, ed_q16_wrap(x + poly));
    return (int16_t)(result > INT16_MAX ? INT16_MAX : (result < INT16_MIN ? INT16_MIN : result));
}

/* exp(a) for a <= 0 with integer_bits (0..6) integer bits, Q0.15. */
static inline int16_t ed_q16_exp_negative(int16_t a, int32_t integer_bits)
{
    static const int32_t steps[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t frac = 15 - integer_bits;
    const int32_t quarter = 1 << (frac - 2);
    const int16_t rem_minus_quarter = ed_q16_wrap((a & (quarter - 1)) - quarter);
    int16_t result = ed_q16_exp_quarter(ed_q16_mul_pot(rem_minus_quarter, integer_bits));
    const int16_t remainder = ed_q16_wrap(rem_minus_quarter - a);
    for (int32_t exponent = -2; exponent <= 4 && exponent < integer_bits; exponent++)
    {
        if (remainder & (1 << (frac + exponent)))
        {
            result = ed_q16_mul(result, ED_Q16_CONSTANT(steps[exponent + 2]));
        }
    }
    if (integer_bits > 5 && a < -(1 << (20 - integer_bits)))
    {
        result = 0; /* below -32: the barrel shifter stops at 2^4 */
    }
    return a == 0 ? INT16_MAX : result;
}

/* The Newton-Raphson iterate of 1 / ((1 + a) / 2), a in Q0.15 [0, 1), as Q2.13. */
static inline int16_t ed_q16_reciprocal_half(int16_t a)
{
    const int32_t sum = (int32_t)a + INT16_MAX;
    const int16_t half_denominator = ed_q16_wrap((sum + (sum >= 0 ? 1 : -1)) / 2);
    int16_t x = ed_q16_wrap(ED_Q16_CONSTANT(1515870810) + ed_q16_mul(half_denominator, ED_Q16_CONSTANT(-1010580540)));
    for (int i = 0; i < 3; i++)
    {
        const int16_t one_minus = ed_q16_wrap((1 << 13) - ed_q16_mul(half_denominator, x));
        x = ed_q16_wrap(x + ed_q16_mul_pot(ed_q16_mul(x, one_minus), 2));
    }
    return x;
}

/* gemmlowp logistic(FixedPoint<int16_t, integer_bits>) -> Q0.15. */
static inline int16_t ed_q16_logistic(int16_t x, int32_t integer_bits)
{
    if (x == 0)
    {
        return 1 << 14;
    }
    const int16_t magnitude = x > 0 ? x : ed_q16_wrap(-x);
    const int16_t positive =
        ed_q16_mul_pot(ed_q16_reciprocal_half(ed_q16_exp_negative(ed_q16_wrap(-magnitude), integer_bits)), 1);
    return x > 0 ? positive : ed_q16_wrap(INT16_MAX - positive);
}

/* gemmlowp tanh(FixedPoint<int16_t, integer_bits>) -> Q0.15. */
static inline int16_t ed_q16_tanh(int16_t x, int32_t integer_bits)
{
    if (x == 0)
    {
        return 0;
    }
    const int16_t neg_magnitude = x < 0 ? x : ed_q16_wrap(-x);
    const int16_t t = ed_q16_mul_pot(
        ed_q16_wrap(ed_q16_reciprocal_half(ed_q16_exp_negative(neg_magnitude, integer_bits + 1)) - (1 << 13)), 2);
    return x < 0 ? ed_q16_wrap(-t) : t;
}

#endif /* ED_FIXEDPOINT16_H */
