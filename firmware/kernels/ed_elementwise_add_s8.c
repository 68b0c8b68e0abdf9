/*
 * ed_elementwise_add_s8.c - ADD and SUB of two int8 vectors (ed_elementwise.h), TFLite's int8
 * arithmetic with one requantization per element.
 *
 * TFLite rescales each input, (x + offset) << 20, by its own multiplier before the sum. That
 * rescale depends on one int8 value only, so the build computes it for all 256 values of each
 * input (two int32 tables; SUB's second table holds the negated rescale). What is left per
 * element: two table loads, an add, the output requantization (one multiply-add and a shift
 * on the fast path, the output offset folded into its rounding term), the saturation, and the
 * activation clamp, applied to four bytes at once on the DSP path.
 *
 * The rescale rounds, and double and single rounding can give an input different tables (not
 * the input of the larger scale, whose rescale is exact): the build then appends that input's
 * single-rounding table and passes its distance, which a kernel compiled with
 * CMSIS_NN_USE_SINGLE_ROUNDING (--rounding litert) steps over.
 */
#include "ed_elementwise.h"
#include "ed_nn_support.h"

/* One output before the activation clamp: the requantized sum, saturated to int8. */
static inline int32_t ed_add_one(const ed_requant_t *q, const int32_t *t1, const int32_t *t2, uint32_t a, uint32_t b)
{
    return ed_sat8(ed_requant_fast(q, t1[a] + t2[b]));
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
    const ed_requant_out_t r = ed_requant_out_prepare(out_mult, out_shift, out_offset);
    int32_t i = 0;
    if (r.q.hi_shift < 0) {
        /* A requantization off the fast path (a left shift, a shift beyond 23): the general one. */
        for (; i < size; i++) {
            output[i] = ed_requant_out_s8(&r, t1[a[i]] + t2[b[i]], act_min, act_max);
        }
        return ARM_CMSIS_NN_SUCCESS;
    }
    const ed_requant_t q = r.q;
#if ED_NN_DSP
    const uint32_t lo = (uint32_t)(uint8_t)act_min * 0x01010101u;
    const uint32_t hi = (uint32_t)(uint8_t)act_max * 0x01010101u;
    for (; i + 4 <= size; i += 4) {
        const uint32_t wa = ed_read_u32(input1 + i);
        const uint32_t wb = ed_read_u32(input2 + i);
        uint32_t out = (uint32_t)(uint8_t)ed_add_one(&q, t1, t2, wa & 0xFFu, wb & 0xFFu);
        out |= (uint32_t)(uint8_t)ed_add_one(&q, t1, t2, (wa >> 8) & 0xFFu, (wb >> 8) & 0xFFu) << 8;
        out |= (uint32_t)(uint8_t)ed_add_one(&q, t1, t2, (wa >> 16) & 0xFFu, (wb >> 16) & 0xFFu) << 16;
        out |= (uint32_t)(uint8_t)ed_add_one(&q, t1, t2, wa >> 24, wb >> 24) << 24;
        ed_write_u32(output + i, ed_min4_s8(ed_max4_s8(out, lo), hi));
    }
#endif
    for (; i < size; i++) {
        output[i] = ed_clamp_s8(ed_add_one(&q, t1, t2, a[i], b[i]), act_min, act_max);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
