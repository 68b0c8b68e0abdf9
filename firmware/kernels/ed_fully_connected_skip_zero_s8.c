/*
 * ed_fully_connected_skip_zero_s8.c - s8 fully connected that skips zero activations
 * (ed_activation.h). Written for edge-deploy from the TFLite FULLY_CONNECTED arithmetic; no
 * CMSIS-NN code. Bit-exact with arm_fully_connected_s8 / _per_channel_s8: a skipped input is
 * x == zero point, whose term (x + input_offset) * w is 0, and int32 sums do not depend on order.
 *
 * Per input row: one pass compacts the nonzero inputs into int16 (index, x + offset) pairs. Per
 * four outputs: one pair load feeds four weight loads (register offset) and four MLA, so the
 * cost follows the number of kept inputs, not the depth.
 */
#include "ed_activation.h"
#include "ed_nn_support.h"

/* Writes the nonzero inputs' indices and offset values; returns how many there are. */
static int32_t ed_compact_nonzero(const int8_t *x, int32_t depth, int32_t input_offset, int16_t *pairs)
{
    const int8_t zero = (int8_t)(-input_offset);
    int32_t n = 0;
    for (int32_t k = 0; k < depth; k++)
    {
        if (x[k] != zero)
        {
            pairs[2 * n] = (int16_t)k;
            pairs[2 * n + 1] = (int16_t)(x[k] + input_offset);
            n++;
        }
    }
    return n;
}

arm_cmsis_nn_status ed_fully_connected_skip_zero_s8(const cmsis_nn_context *ctx,
                                                    const cmsis_nn_fc_params *fc_params,
                                                    const cmsis_nn_per_channel_quant_params *quant,
                                                    int32_t quant_step,
                                                    const cmsis_nn_dims *input_dims,
                                                    const int8_t *input_data,
                                                    const cmsis_nn_dims *filter_dims,
                                                    const int8_t *filter_data,
                                                    const cmsis_nn_dims *bias_dims,
                                                    const int32_t *bias_data,
                                                    const cmsis_nn_dims *output_dims,
                                                    int8_t *output_data)
{
    (void)bias_dims;
    const int32_t depth = filter_dims->n;
    const int32_t units = output_dims->c;
    /* A nonzero weight zero point would make skipped inputs contribute; depth must fit int16. */
    if (fc_params->filter_offset != 0 || filter_dims->c != units || depth > 32767 || ctx == NULL ||
        ctx->buf == NULL || ctx->size < ed_fully_connected_skip_zero_s8_get_buffer_size(filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    int16_t *pairs = (int16_t *)ctx->buf;
    for (int32_t b = 0; b < input_dims->n; b++)
    {
        const int32_t n = ed_compact_nonzero(input_data + b * depth, depth, fc_params->input_offset, pairs);
        int8_t *out = output_data + b * units;
        int32_t o = 0;
        for (; o + 4 <= units; o += 4)
        {
            const int8_t *w0 = filter_data + o * depth;
            const int8_t *w1 = w0 + depth, *w2 = w1 + depth, *w3 = w2 + depth;
            int32_t a0 = bias_data ? bias_data[o] : 0, a1 = bias_data ? bias_data[o + 1] : 0;
            int32_t a2 = bias_data ? bias_data[o + 2] : 0, a3 = bias_data ? bias_data[o + 3] : 0;
            const int16_t *p = pairs;
            for (int32_t i = 0; i < n; i++, p += 2)
            {
                const int32_t k = p[0], v = p[1];
                a0 += v * w0[k];
                a1 += v * w1[k];
                a2 += v * w2[k];
                a3 += v * w3[k];
            }
            const int32_t acc[4] = {a0, a1, a2, a3};
            for (int32_t r = 0; r < 4; r++)
            {
                const int32_t qi = (o + r) * quant_step;
                const ed_requant_out_t q = ed_requant_out_prepare(quant->multiplier[qi], quant->shift[qi],
                                                                  fc_params->output_offset);
                out[o + r] = ed_requant_out_s8(&q, acc[r], fc_params->activation.min, fc_params->activation.max);
            }
        }
        for (; o < units; o++)
        {
            const int8_t *w = filter_data + o * depth;
            int32_t a = bias_data ? bias_data[o] : 0;
            for (int32_t i = 0; i < n; i++)
            {
                a += pairs[2 * i + 1] * w[pairs[2 * i]];
            }
            const int32_t qi = o * quant_step;
            const ed_requant_out_t q = ed_requant_out_prepare(quant->multiplier[qi], quant->shift[qi],
                                                              fc_params->output_offset);
            out[o] = ed_requant_out_s8(&q, a, fc_params->activation.min, fc_params->activation.max);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_fully_connected_skip_zero_s8_get_buffer_size(const cmsis_nn_dims *filter_dims)
{
    return filter_dims->n * 2 * (int32_t)sizeof(int16_t);
}
