/*
 * ed_prelu_s8.c - PRELU on one block of elements (ed_elementwise.h), TFLite's int8 arithmetic.
 */
#include "ed_elementwise.h"
#include "ed_nn_support.h"

arm_cmsis_nn_status ed_prelu_s8(const int8_t *input,
                                const int8_t *alpha,
                                int8_t *output,
                                int32_t input_offset,
                                int32_t alpha_offset,
                                int32_t output_offset,
                                int32_t pos_mult,
                                int32_t pos_shift,
                                int32_t neg_mult,
                                int32_t neg_shift,
                                int32_t size)
{
    for (int32_t i = 0; i < size; i++) {
        const int32_t v = input[i] + input_offset;
        int32_t out = v >= 0 ? ed_requantize(v, pos_mult, pos_shift)
                             : ed_requantize(v * (alpha[i] + alpha_offset), neg_mult, neg_shift);
        out += output_offset;
        output[i] = (int8_t)(out < -128 ? -128 : (out > 127 ? 127 : out));
    }
    return ARM_CMSIS_NN_SUCCESS;
}
