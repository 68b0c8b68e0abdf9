/*
 * ed_elementwise_mul_s8.c - MUL of two int8 vectors (ed_elementwise.h), TFLite's int8
 * arithmetic: (a + offset 1) * (b + offset 2), one requantization, plus the output offset,
 * clamped.
 *
 * The DSP path reads four elements of each input per word, widens and offsets them two at a
 * time (SXTB16, SADD16) and multiplies halfword by halfword (SMULBB, SMULTT); the
 * requantization takes the fast path (one multiply-add and a shift, the output offset folded
 * into its rounding term) and the activation clamp is applied to four bytes at once.
 */
#include "ed_elementwise.h"
#include "ed_binary.h"

arm_cmsis_nn_status ed_elementwise_mul_s8(const int8_t *input1,
                                          const int8_t *input2,
                                          int32_t input1_offset,
                                          int32_t input2_offset,
                                          int32_t out_offset,
                                          int32_t out_mult,
                                          int32_t out_shift,
                                          int32_t act_min,
                                          int32_t act_max,
                                          int8_t *output,
                                          int32_t size)
{
    const ed_requant_out_t r = ed_requant_out_prepare(out_mult, out_shift, out_offset);
    int32_t i = 0;
    if (r.q.hi_shift < 0) {
        for (; i < size; i++) {
            output[i] = ed_requant_out_s8(&r, (input1[i] + input1_offset) * (input2[i] + input2_offset), act_min,
                                          act_max);
        }
        return ARM_CMSIS_NN_SUCCESS;
    }
    const ed_requant_t q = r.q;
#if ED_NN_DSP
    const uint32_t off1 = ed_dup16(input1_offset);
    const uint32_t off2 = ed_dup16(input2_offset);
    const uint32_t lo = ed_splat4_s8(act_min);
    const uint32_t hi = ed_splat4_s8(act_max);
    for (; i + 4 <= size; i += 4) {
        const uint32_t wa = ed_read_u32(input1 + i);
        const uint32_t wb = ed_read_u32(input2 + i);
        /* Elements 0 and 2, then 1 and 3, as offset halfwords (|value| <= 255). */
        const uint32_t a02 = ed_sadd16(ed_sxtb16(wa), off1);
        const uint32_t b02 = ed_sadd16(ed_sxtb16(wb), off2);
        const uint32_t a13 = ed_sadd16(ed_sxtb16_ror8(wa), off1);
        const uint32_t b13 = ed_sadd16(ed_sxtb16_ror8(wb), off2);
        const int32_t v0 = ed_sat8(ed_requant_fast(&q, ed_smlabb(a02, b02, 0)));
        const int32_t v2 = ed_sat8(ed_requant_fast(&q, ed_smlatt(a02, b02, 0)));
        const int32_t v1 = ed_sat8(ed_requant_fast(&q, ed_smlabb(a13, b13, 0)));
        const int32_t v3 = ed_sat8(ed_requant_fast(&q, ed_smlatt(a13, b13, 0)));
        const uint32_t out = ed_pack4_s8(v0, v1, v2, v3);
        ed_write_u32(output + i, ed_clamp4_s8(out, lo, hi));
    }
#endif
    for (; i < size; i++) {
        const int32_t v = ed_sat8(ed_requant_fast(&q, (input1[i] + input1_offset) * (input2[i] + input2_offset)));
        output[i] = ed_clamp_s8(v, act_min, act_max);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
