/*
 * ed_softmax_support.h - the fixed point that arm_softmax_s8.c and ed_softmax_s8.c share
 * (gemmlowp's, as TFLite's reference SOFTMAX computes it): the formats, a power-of-two scaling,
 * and the reciprocal of the sum of exponentials.
 *
 * Fixed-point numbers are raw int32 with a stated number of integer bits (F0: Q0.31,
 * F2: Q2.29, F5: Q5.26, F12: Q12.19).
 */
#ifndef ED_SOFTMAX_SUPPORT_H
#define ED_SOFTMAX_SUPPORT_H

#include "ed_nn_support.h"

#define ED_SOFTMAX_DIFF_INT_BITS 5  /* input differences as F5 */
#define ED_SOFTMAX_SUM_INT_BITS 12  /* sum of exponentials as F12 */
#define ED_F0_ONE INT32_MAX         /* 1.0 is not representable in Q0.31: its closest value */
#define ED_F2_ONE (1 << 29)

/* x * 2^exponent, saturating when shifting left, rounding when shifting right. */
static inline int32_t ed_mul_by_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0)
    {
        const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
        if (x > threshold)
        {
            return INT32_MAX;
        }
        if (x < -threshold)
        {
            return INT32_MIN;
        }
        return ed_shift_left_wrap(x, exponent);
    }
    if (exponent < 0)
    {
        return ed_divide_by_pot(x, -exponent);
    }
    return x;
}

/* 1 / (1 + x) for x in [0, 1), both in F0: three Newton-Raphson steps on half the
 * denominator, starting from 48/17 - 32/17 * d. */
static inline int32_t ed_one_over_one_plus_x(int32_t x)
{
    const int64_t sum = (int64_t)x + ED_F0_ONE;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_over_17 = 1515870810;      /* F2 */
    const int32_t c_neg32_over_17 = -1010580540; /* F2 */
    int32_t estimate = c48_over_17 + ed_sat_doubling_high_mult(half_denominator, c_neg32_over_17);
    for (int32_t i = 0; i < 3; i++)
    {
        const int32_t half_denominator_times_estimate = ed_sat_doubling_high_mult(half_denominator, estimate);
        const int32_t one_minus = ED_F2_ONE - half_denominator_times_estimate;
        estimate = estimate + ed_mul_by_pot(ed_sat_doubling_high_mult(estimate, one_minus), 2);
    }
    /* The F2 estimate is 2 / (1 + x); read as F1 it is 1 / (1 + x); rescale F1 to F0. */
    return ed_mul_by_pot(estimate, 1);
}

/* The reciprocal of a sum of exponentials in F12 (at least 1.0): the sum normalised to [1, 2),
 * inverted in F0; *bits_over_unit says by how many bits the sum exceeded [1, 2). */
static inline int32_t ed_softmax_reciprocal(int32_t sum_of_exps, int32_t *bits_over_unit)
{
    const int32_t headroom_plus_one = __builtin_clz((uint32_t)sum_of_exps);
    *bits_over_unit = ED_SOFTMAX_SUM_INT_BITS - headroom_plus_one;
    const int32_t shifted_sum_minus_one = (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    return ed_one_over_one_plus_x(shifted_sum_minus_one);
}

#endif /* ED_SOFTMAX_SUPPORT_H */
