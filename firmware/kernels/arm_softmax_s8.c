/*
 * arm_softmax_s8.c - s8 softmax (TFLite SOFTMAX, int8 in, int8 out with scale 1/256 and zero
 * point -128), edge-deploy's own implementation of the CMSIS-NN function of that name.
 * Written from the public API description and the TFLite reference arithmetic (gemmlowp
 * fixed point: exp on negative values, Newton-Raphson reciprocal); no CMSIS-NN code.
 *
 * Fixed-point numbers are raw int32 with a stated number of integer bits (F0: Q0.31,
 * F2: Q2.29, F5: Q5.26, F12: Q12.19). Per-element 32/64-bit maths: one path for every core.
 */
#include "ed_softmax_support.h"

/* exp(a) for a in [-1/4, 0), a and result in F0: Taylor series around -1/8. */
static int32_t ed_exp_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in F0 */
    const int32_t one_third = 715827883;             /* 1/3 in F0 */
    const int32_t x = a + (1 << 28);                 /* a + 1/8 */
    const int32_t x2 = ed_sat_doubling_high_mult(x, x);
    const int32_t x3 = ed_sat_doubling_high_mult(x2, x);
    const int32_t x4 = ed_sat_doubling_high_mult(x2, x2);
    const int32_t x4_over_4 = ed_mul_by_pot(x4, -2);
    const int32_t poly = ed_mul_by_pot(ed_sat_doubling_high_mult(x4_over_4 + x3, one_third) + x2, -1);
    /* exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24) */
    return exp_minus_one_eighth + ed_sat_doubling_high_mult(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 given in F5; result in F0. Splits a into a multiple of 1/4 (applied
 * as a product of exp(-2^k) constants) and a remainder in [-1/4, 0). */
static int32_t ed_exp_on_negative_values(int32_t a)
{
    static const int32_t exp_minus_pow2[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
        242,        /* exp(-16)  */
    };
    const int32_t frac_bits = 31 - ED_SOFTMAX_DIFF_INT_BITS;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_quarter = (a & mask) - one_quarter;
    int32_t result = ed_exp_quarter_interval(ed_mul_by_pot(a_mod_quarter_minus_quarter, ED_SOFTMAX_DIFF_INT_BITS));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    for (int32_t i = 0; i < 7; i++)
    {
        const int32_t exponent = i - 2; /* bit for 2^exponent in F5 */
        if (ED_SOFTMAX_DIFF_INT_BITS > exponent && (remainder & (1 << (frac_bits + exponent))))
        {
            result = ed_sat_doubling_high_mult(result, exp_minus_pow2[i]);
        }
    }
    return a == 0 ? ED_F0_ONE : result;
}

void arm_softmax_s8(const int8_t *input,
                    const int32_t num_rows,
                    const int32_t row_size,
                    const int32_t mult,
                    const int32_t shift,
                    const int32_t diff_min,
                    int8_t *output)
{
    for (int32_t row = 0; row < num_rows; row++)
    {
        const int8_t *in = input + row * row_size;
        int8_t *out = output + row * row_size;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < row_size; c++)
        {
            max_in_row = ed_max_i32(max_in_row, in[c]);
        }
        int32_t sum_of_exps = 0; /* F12 */
        for (int32_t c = 0; c < row_size; c++)
        {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= diff_min)
            {
                const int32_t scaled = ed_sat_doubling_high_mult(ed_shift_left_wrap(diff, shift), mult);
                sum_of_exps += ed_mul_by_pot(ed_exp_on_negative_values(scaled), -ED_SOFTMAX_SUM_INT_BITS);
            }
        }
        int32_t bits_over_unit;
        const int32_t scale = ed_softmax_reciprocal(sum_of_exps, &bits_over_unit);
        for (int32_t c = 0; c < row_size; c++)
        {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= diff_min)
            {
                const int32_t scaled = ed_sat_doubling_high_mult(ed_shift_left_wrap(diff, shift), mult);
                const int32_t exp_value = ed_exp_on_negative_values(scaled);
                const int32_t unsat =
                    ed_divide_by_pot(ed_sat_doubling_high_mult(scale, exp_value), bits_over_unit + 31 - 8);
                out[c] = (int8_t)ed_min_i32(ed_max_i32(unsat - 128, -128), 127);
            }
            else
            {
                out[c] = -128;
            }
        }
    }
}
