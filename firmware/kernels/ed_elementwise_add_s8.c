/*
 * ed_elementwise_add_s8.c - ADD and SUB of two int8 vectors (ed_elementwise.h), TFLite's int8
 * arithmetic with one multiply per element.
 *
 * TFLite rescales each input, (x + offset) << 20, by its own multiplier before the sum. That
 * rescale depends on one int8 value only, so the build tables it, doubled, for all 256 values
 * of each input (SUB's second table holds the negated rescale). What is left per element: two
 * table loads, an add, and the output requantization of the sum S, which is one SMMLA(R) and a
 * shift:
 *   double rounding: SMMLAR(2S, mult, round) = SaturatingRoundingDoublingHighMul(S, mult) + round
 *     (its one saturating case needs S = INT32_MIN, far outside the tables' range); with
 *     round = 2^(e-1) + out_offset * 2^e, minus 1 where that high half is negative, the
 *     arithmetic shift by e is RoundingDivideByPOT plus the offset (halves away from zero). The
 *     high half is negative exactly where S is (the multiplier is at least 2^30; S = -1 with a
 *     multiplier of 2^30 gives 0), so the minus 1 is an add of S >> 31.
 *   single rounding: SMMLA(2S, mult, round) = floor(S * mult / 2^31) + round, and the shift by
 *     e gives floor((S * mult + 2^(30+e)) / 2^(31+e)) + out_offset exactly (two nested floor
 *     divisions are one).
 * Then SSAT, and the activation clamp applied to four bytes at once on the DSP path.
 *
 * The rescale rounds, and double and single rounding can give an input different tables (not
 * the input of the larger scale, whose rescale is exact): the build then appends that input's
 * single-rounding table and passes its distance, which a kernel compiled with
 * CMSIS_NN_USE_SINGLE_ROUNDING (--rounding litert) steps over.
 */
#include "ed_elementwise.h"
#include "ed_binary.h"

/* (round << 32) + s2 * mult, plus 2^31 for double rounding, high word: SMMLAR / SMMLA. */
static inline int32_t ed_add_high(int32_t s2, int32_t mult, int32_t round)
{
#if ED_NN_ASM
    int32_t r;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(s2), "r"(mult), "r"(round));
#else
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(s2), "r"(mult), "r"(round));
#endif
    return r;
#else
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int64_t nudge = 0;
#else
    const int64_t nudge = (int64_t)1 << 31;
#endif
    return (int32_t)(((int64_t)(((uint64_t)(uint32_t)round) << 32) + (int64_t)s2 * mult + nudge) >> 32);
#endif
}

/* One output before the activation clamp. */
static inline int32_t ed_add_one(const int32_t *t1, const int32_t *t2, uint32_t a, uint32_t b, int32_t mult,
                                 int32_t round, int32_t shift)
{
    const int32_t s2 = t1[a] + t2[b];
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int32_t v = ed_add_high(s2, mult, round);
#else
    const int32_t v = ed_add_high(s2, mult, round) + (s2 >> 31);
#endif
    return ed_sat8(v >> shift);
}

arm_cmsis_nn_status ed_elementwise_add_s8(const int8_t *input1,
                                          const int8_t *input2,
                                          const int32_t *tables,
                                          int32_t single_rounding_1,
                                          int32_t single_rounding_2,
                                          int32_t out_offset,
                                          int32_t out_mult,
                                          int32_t out_shift,
                                          int32_t act_min,
                                          int32_t act_max,
                                          int8_t *output,
                                          int32_t size)
{
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int32_t *t1 = tables + single_rounding_1;
    const int32_t *t2 = tables + 256 + single_rounding_2;
#else
    (void)single_rounding_1;
    (void)single_rounding_2;
    const int32_t *t1 = tables;
    const int32_t *t2 = tables + 256;
#endif
    const uint8_t *a = (const uint8_t *)input1;
    const uint8_t *b = (const uint8_t *)input2;
    const int32_t e = -out_shift;
    int32_t i = 0;
    if (out_mult < (1 << 30) || e < 1 || e > 23) {
        /* The general requantization of the sum (the tables hold it doubled). */
        for (; i < size; i++) {
            output[i] = ed_requantize_to_s8((t1[a[i]] + t2[b[i]]) / 2, out_mult, out_shift, out_offset, act_min,
                                            act_max);
        }
        return ARM_CMSIS_NN_SUCCESS;
    }
    /* 2^(e-1) + out_offset * 2^e, within int32 for e <= 23 and |out_offset| <= 128. */
    const int32_t round = (int32_t)((1u << (e - 1)) + ((uint32_t)out_offset << e));
#if ED_NN_DSP
    const uint32_t lo = ed_splat4_s8(act_min);
    const uint32_t hi = ed_splat4_s8(act_max);
    for (; i + 4 <= size; i += 4) {
        const uint32_t wa = ed_read_u32(input1 + i);
        const uint32_t wb = ed_read_u32(input2 + i);
        const uint32_t out = ed_pack4_s8(ed_add_one(t1, t2, wa & 0xFFu, wb & 0xFFu, out_mult, round, e),
                                         ed_add_one(t1, t2, (wa >> 8) & 0xFFu, (wb >> 8) & 0xFFu, out_mult, round, e),
                                         ed_add_one(t1, t2, (wa >> 16) & 0xFFu, (wb >> 16) & 0xFFu, out_mult, round, e),
                                         ed_add_one(t1, t2, wa >> 24, wb >> 24, out_mult, round, e));
        ed_write_u32(output + i, ed_clamp4_s8(out, lo, hi));
    }
#endif
    for (; i < size; i++) {
        output[i] = ed_clamp_s8(ed_add_one(t1, t2, a[i], b[i], out_mult, round, e), act_min, act_max);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
