/*
 * arm_svdf_state_s16_s8.c - SVDF with an int16 state and int16 time weights (TFLite SVDF,
 * int8), edge-deploy's own implementation of the CMSIS-NN function of that name. Written from
 * the public API description and TFLite's reference arithmetic; no CMSIS-NN code.
 *
 * Per batch: the state moves left by one value (the whole buffer at once: the value that crosses
 * into the previous filter's newest slot is overwritten next); each filter's newest value is the
 * dot product of its int8 feature weights with the input minus its zero point, requantized and
 * clamped to int16; each filter's memory times its int16 time weights gives one int32 sum
 * (input_ctx); the bias plus the rank sums of each unit (output_ctx) are requantized to the int8
 * output. Sums wrap in 32 bits, as SMLAD and TFLite's int32 arithmetic do.
 */
#include <string.h>

#include "ed_nn_support.h"

/* sum(weights[i] * (input[i] - input_zero)) modulo 2^32. */
static int32_t ed_svdf_feature_dot(const int8_t *input, const int8_t *weights, int32_t count, int32_t input_zero)
{
    uint32_t products = 0u;
    uint32_t weight_sum = 0u;
    int32_t i = 0;
#if ED_NN_DSP
    /* Four bytes per step: SXTB16 widens the even and the odd bytes to halfword pairs, SMLAD
     * adds two products at once; the zero point comes off at the end, times the weights' sum. */
    const uint32_t ones = ed_dup16(1);
    for (; i + 3 < count; i += 4)
    {
        const uint32_t x = ed_read_u32(input + i);
        const uint32_t w = ed_read_u32(weights + i);
        const uint32_t w_even = ed_sxtb16(w);
        const uint32_t w_odd = ed_sxtb16_ror8(w);
        products = (uint32_t)ed_smlad(w_even, ed_sxtb16(x), (int32_t)products);
        products = (uint32_t)ed_smlad(w_odd, ed_sxtb16_ror8(x), (int32_t)products);
        weight_sum = (uint32_t)ed_smlad(w_even, ones, (int32_t)weight_sum);
        weight_sum = (uint32_t)ed_smlad(w_odd, ones, (int32_t)weight_sum);
    }
#endif
    for (; i < count; i++)
    {
        products += (uint32_t)((int32_t)weights[i] * (int32_t)input[i]);
        weight_sum += (uint32_t)(int32_t)weights[i];
    }
    return (int32_t)(products - weight_sum * (uint32_t)input_zero);
}

/* sum(a[i] * b[i]) of two int16 vectors, modulo 2^32. */
static int32_t ed_svdf_time_dot(const int16_t *a, const int16_t *b, int32_t count)
{
    uint32_t sum = 0u;
    int32_t i = 0;
#if ED_NN_DSP
    for (; i + 1 < count; i += 2)
    {
        sum = (uint32_t)ed_smlad(ed_read_u32((const int8_t *)(a + i)), ed_read_u32((const int8_t *)(b + i)),
                                 (int32_t)sum);
    }
#endif
    for (; i < count; i++)
    {
        sum += (uint32_t)((int32_t)a[i] * (int32_t)b[i]);
    }
    return (int32_t)sum;
}

arm_cmsis_nn_status arm_svdf_state_s16_s8(const cmsis_nn_context *input_ctx,
                                          const cmsis_nn_context *output_ctx,
                                          const cmsis_nn_svdf_params *svdf_params,
                                          const cmsis_nn_per_tensor_quant_params *input_quant_params,
                                          const cmsis_nn_per_tensor_quant_params *output_quant_params,
                                          const cmsis_nn_dims *input_dims,
                                          const int8_t *input_data,
                                          const cmsis_nn_dims *state_dims,
                                          int16_t *state_data,
                                          const cmsis_nn_dims *weights_feature_dims,
                                          const int8_t *weights_feature_data,
                                          const cmsis_nn_dims *weights_time_dims,
                                          const int16_t *weights_time_data,
                                          const cmsis_nn_dims *bias_dims,
                                          const int32_t *bias_data,
                                          const cmsis_nn_dims *output_dims,
                                          int8_t *output_data)
{
    (void)state_dims;
    (void)bias_dims;
    (void)output_dims;
    const int32_t batches = input_dims->n;
    const int32_t input_size = input_dims->h;
    const int32_t filters = weights_feature_dims->n;
    const int32_t memory = weights_time_dims->h;
    const int32_t rank = svdf_params->rank;
    if (input_ctx->buf == NULL || output_ctx->buf == NULL || rank < 1 || filters % rank != 0 || memory < 1)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t units = filters / rank;
    int32_t *filter_sums = (int32_t *)input_ctx->buf;
    int32_t *unit_sums = (int32_t *)output_ctx->buf;

    const int32_t state_count = batches * filters * memory;
    memmove(state_data, state_data + 1, (size_t)(state_count - 1) * sizeof(int16_t));

    for (int32_t b = 0; b < batches; b++)
    {
        const int8_t *input = input_data + b * input_size;
        int16_t *state = state_data + b * filters * memory;
        for (int32_t f = 0; f < filters; f++)
        {
            const int32_t dot = ed_svdf_feature_dot(input, weights_feature_data + f * input_size, input_size,
                                                    svdf_params->input_offset);
            int32_t newest = ed_requantize(dot, input_quant_params->multiplier, input_quant_params->shift);
            newest = newest < svdf_params->input_activation.min ? svdf_params->input_activation.min : newest;
            newest = newest > svdf_params->input_activation.max ? svdf_params->input_activation.max : newest;
            state[f * memory + memory - 1] = (int16_t)newest;
        }
        for (int32_t f = 0; f < filters; f++)
        {
            filter_sums[b * filters + f] = ed_svdf_time_dot(state + f * memory, weights_time_data + f * memory, memory);
        }
        for (int32_t u = 0; u < units; u++)
        {
            uint32_t sum = bias_data != NULL ? (uint32_t)bias_data[u] : 0u;
            for (int32_t r = 0; r < rank; r++)
            {
                sum += (uint32_t)filter_sums[b * filters + u * rank + r];
            }
            unit_sums[b * units + u] = (int32_t)sum;
        }
        for (int32_t u = 0; u < units; u++)
        {
            int32_t out = ed_requantize(unit_sums[b * units + u], output_quant_params->multiplier,
                                        output_quant_params->shift) + svdf_params->output_offset;
            out = out < svdf_params->output_activation.min ? svdf_params->output_activation.min : out;
            out = out > svdf_params->output_activation.max ? svdf_params->output_activation.max : out;
            output_data[b * units + u] = (int8_t)out;
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
