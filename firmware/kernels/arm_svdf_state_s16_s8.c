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
#include "ed_nn_support.h"

/* Each filter's int8 feature weights times the input minus its zero point, modulo 2^32, into
 * dots[0..filters). The DSP path widens four inputs (less the zero point: -255..255 fits a
 * halfword) once for two filters and adds two products per SMLAD. */
static void ed_svdf_feature_dots(const int8_t *input, const int8_t *weights, int32_t input_size, int32_t filters,
                                 int32_t input_zero, int32_t *dots)
{
    int32_t f = 0;
#if ED_NN_DSP
    const uint32_t minus_zero = ed_dup16(-input_zero);
    for (; f + 1 < filters; f += 2)
    {
        const int8_t *w0 = weights + f * input_size;
        const int8_t *w1 = w0 + input_size;
        int32_t acc0 = 0, acc1 = 0;
        int32_t i = 0;
        for (; i + 3 < input_size; i += 4)
        {
            const uint32_t x = ed_read_u32(input + i);
            const uint32_t x_even = ed_sadd16(ed_sxtb16(x), minus_zero);
            const uint32_t x_odd = ed_sadd16(ed_sxtb16_ror8(x), minus_zero);
            const uint32_t a = ed_read_u32(w0 + i);
            const uint32_t b = ed_read_u32(w1 + i);
            acc0 = ed_smlad(ed_sxtb16(a), x_even, acc0);
            acc0 = ed_smlad(ed_sxtb16_ror8(a), x_odd, acc0);
            acc1 = ed_smlad(ed_sxtb16(b), x_even, acc1);
            acc1 = ed_smlad(ed_sxtb16_ror8(b), x_odd, acc1);
        }
        uint32_t sum0 = (uint32_t)acc0, sum1 = (uint32_t)acc1;
        for (; i < input_size; i++)
        {
            const int32_t x = (int32_t)input[i] - input_zero;
            sum0 += (uint32_t)((int32_t)w0[i] * x);
            sum1 += (uint32_t)((int32_t)w1[i] * x);
        }
        dots[f] = (int32_t)sum0;
        dots[f + 1] = (int32_t)sum1;
    }
#endif
    for (; f < filters; f++)
    {
        const int8_t *w = weights + f * input_size;
        uint32_t sum = 0u;
        for (int32_t i = 0; i < input_size; i++)
        {
            sum += (uint32_t)((int32_t)w[i] * ((int32_t)input[i] - input_zero));
        }
        dots[f] = (int32_t)sum;
    }
}

/* The whole state one value to the left (the last value is about to be overwritten). */
static void ed_svdf_shift_state(int16_t *state, int32_t count)
{
    int32_t i = 0;
#if ED_NN_DSP
    /* Two values per word: the M4 loads a halfword-aligned word in one LDR. */
    for (; i + 2 < count; i += 2)
    {
        ed_write_u32(state + i, ed_read_u32((const int8_t *)(state + i + 1)));
    }
#endif
    for (; i + 1 < count; i++)
    {
        state[i] = state[i + 1];
    }
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

    ed_svdf_shift_state(state_data, batches * filters * memory);

    for (int32_t b = 0; b < batches; b++)
    {
        int16_t *state = state_data + b * filters * memory;
        /* The feature dot products go through filter_sums before they are the newest state. */
        ed_svdf_feature_dots(input_data + b * input_size, weights_feature_data, input_size, filters,
                             svdf_params->input_offset, filter_sums + b * filters);
        for (int32_t f = 0; f < filters; f++)
        {
            int32_t newest = ed_requantize(filter_sums[b * filters + f], input_quant_params->multiplier,
                                           input_quant_params->shift);
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
