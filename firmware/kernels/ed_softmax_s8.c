/*
 * ed_softmax_s8.c - SOFTMAX over rows, int8 in, int8 out with scale 1/256 and zero point -128
 * (ed_pool.h), TFLite's reference arithmetic.
 *
 * Every exponential TFLite evaluates is exp(beta * scale * (x - row max)) for a difference in
 * -255..0, so the build evaluates them all (gemmlowp's exp on negative values, F0) into a table
 * indexed by max - x, with 0 for the differences below diff_min that TFLite leaves out. A row
 * then costs its maximum, the sum of the table entries in F12 (each rounded by 2^-12), one
 * reciprocal (ed_softmax_support.h), and per element one multiply-add and a shift: for the
 * non-negative values here SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT(s)
 * is floor((scale * e + 2^30 + 2^(30+s)) / 2^(31+s)), two nested floor divisions in one. A
 * table entry of 0 gives 0, the output -128, as TFLite writes for a left-out difference.
 */
#include "ed_pool.h"
#include "ed_softmax_support.h"

void ed_softmax_s8(const int8_t *input, int32_t num_rows, int32_t row_size, const int32_t *exp_table,
                   int8_t *output)
{
    for (int32_t row = 0; row < num_rows; row++) {
        const int8_t *in = input + row * row_size;
        int8_t *out = output + row * row_size;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < row_size; c++) {
            max_in_row = ed_max_i32(max_in_row, in[c]);
        }
        /* Each exponential in F12: RoundingDivideByPOT(e, 12) of a non-negative e, in 32 bits
         * unsigned (e may be INT32_MAX); the sum wraps as TFLite's int32 sum does. */
        uint32_t sum = 0;
        for (int32_t c = 0; c < row_size; c++) {
            sum += ((uint32_t)exp_table[max_in_row - in[c]] + (1u << 11)) >> ED_SOFTMAX_SUM_INT_BITS;
        }
        int32_t bits_over_unit;
        const int32_t scale = ed_softmax_reciprocal((int32_t)sum, &bits_over_unit);
        /* s = bits_over_unit + 23 >= 23: the rounding term 2^30 + 2^(30+s), then a shift of the
         * high word by s - 1. */
        const int32_t s = bits_over_unit + 31 - 8;
        const uint64_t round = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + s));
        for (int32_t c = 0; c < row_size; c++) {
            const uint64_t v = (uint64_t)(uint32_t)scale * (uint32_t)exp_table[max_in_row - in[c]] + round;
            const uint32_t unsat = (uint32_t)(v >> 32) >> (s - 1);
            out[c] = (int8_t)((int32_t)(unsat > 255u ? 255u : unsat) - 128);
        }
    }
}
