/*
 * arm_elementwise_mul_s8.c - s8 elementwise multiply (TFLite MUL, int8), edge-deploy's own
 * implementation of the CMSIS-NN function of that name. Written from the public API
 * description and the TFLite arithmetic; no CMSIS-NN code.
 *
 * Each output is (a + input_1_offset) * (b + input_2_offset), one requantization, plus the
 * output offset, clamped. The product of two offset int8 values fits 17 bits. The DSP path
 * only reads four inputs of each vector per load: the requantization dominates.
 */
#include "ed_nn_support.h"

static inline int8_t ed_mul_one(int32_t a, int32_t b, int32_t in1_offset, int32_t in2_offset, int32_t out_offset,
                                int32_t out_mult, int32_t out_shift, int32_t act_min, int32_t act_max)
{
    return ed_requantize_to_s8((a + in1_offset) * (b + in2_offset), out_mult, out_shift, out_offset, act_min,
                               act_max);
}

arm_cmsis_nn_status arm_elementwise_mul_s8(const int8_t *input_1_vect,
                                           const int8_t *input_2_vect,
                                           const int32_t input_1_offset,
                                           const int32_t input_2_offset,
                                           int8_t *output,
                                           const int32_t out_offset,
                                           const int32_t out_mult,
                                           const int32_t out_shift,
                                           const int32_t out_activation_min,
                                           const int32_t out_activation_max,
                                           const int32_t block_size)
{
    int32_t i = 0;
#if ED_NN_DSP
    for (; i + 3 < block_size; i += 4)
    {
        const uint32_t w1 = ed_read_u32(input_1_vect + i);
        const uint32_t w2 = ed_read_u32(input_2_vect + i);
        for (int32_t lane = 0; lane < 4; lane++)
        {
            output[i + lane] = ed_mul_one((int8_t)((w1 >> (8 * lane)) & 0xFFu), (int8_t)((w2 >> (8 * lane)) & 0xFFu),
                                          input_1_offset, input_2_offset, out_offset, out_mult, out_shift,
                                          out_activation_min, out_activation_max);
        }
    }
#endif
    for (; i < block_size; i++)
    {
        output[i] = ed_mul_one(input_1_vect[i], input_2_vect[i], input_1_offset, input_2_offset, out_offset, out_mult,
                               out_shift, out_activation_min, out_activation_max);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
