/*
 * ed_quantize.c - the float32 boundary of a model converted with a float interface
 * (ed_elementwise.h): QUANTIZE float -> 8 bit and DEQUANTIZE 8 bit -> float, with the float32
 * operations TFLite's reference kernels use, so the results are theirs bit for bit.
 */
#include "ed_elementwise.h"

/* std::round: halves away from zero. x - trunc(x) is exact for a float, so the test is too. */
static int32_t ed_round_half_away(float x)
{
    if (x >= 1073741824.0f) {
        return 1073741824;
    }
    if (x <= -1073741824.0f) {
        return -1073741824;
    }
    const int32_t t = (int32_t)x; /* toward zero */
    const float fraction = x - (float)t;
    if (fraction >= 0.5f) {
        return t + 1;
    }
    if (fraction <= -0.5f) {
        return t - 1;
    }
    return t;
}

arm_cmsis_nn_status ed_quantize_f32_s8(const float *input, int8_t *output, int32_t size, float scale,
                                       int32_t zero_point, int32_t q_min, int32_t q_max)
{
    for (int32_t i = 0; i < size; i++) {
        int32_t q = ed_round_half_away(input[i] / scale) + zero_point;
        q = q < q_min ? q_min : (q > q_max ? q_max : q);
        ((uint8_t *)output)[i] = (uint8_t)q;
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_dequantize_s8_f32(const int8_t *input, float *output, int32_t size, float scale,
                                         int32_t zero_point, int32_t is_unsigned)
{
    for (int32_t i = 0; i < size; i++) {
        const int32_t q = is_unsigned ? (int32_t)((const uint8_t *)input)[i] : (int32_t)input[i];
        output[i] = scale * (float)(q - zero_point);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
