/*
 * ed_sparse_conv_s8.c - s8 convolution on sparse weights (ed_sparse.h): group-sparse
 * (group_size 4) and unstructured (CSR, group_size 1). Written for edge-deploy from the TFLite
 * CONV_2D arithmetic; no CMSIS-NN code. Bit-exact with arm_convolve_s8 on the dense weights the
 * sparse ones were made from: the same products, summed in int32, requantized alike.
 *
 * Four output positions at a time are widened into the scratch buffer (ed_sparse_support.h);
 * then each output channel walks its kept groups once for all four.
 * Group-sparse DSP path, per kept group: one index load, one weight word, two SXTB16, four
 * column-word pairs and eight SMLAD (16 MACs). Portable path and CSR: scalar MACs.
 */
#include "ed_sparse_support.h"

/* Accumulates the kept groups of one output channel against four columns; returns the
 * pointer past its values. */
static inline __attribute__((always_inline)) const int8_t *
ed_group_row4(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
              int wide, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if ED_NN_DSP
    const uint32_t *words = (const uint32_t *)(const void *)col;
    for (int32_t i = 0; i < count; i++)
    {
        const uint32_t *c = words + ed_sparse_index(index8, index16, i, wide) * 8;
        const uint32_t wword = ed_read_u32(values);
        values += 4;
        const uint32_t w02 = ed_sxtb16(wword);
        const uint32_t w13 = ed_sxtb16_ror8(wword);
        a0 = ed_smlad(c[1], w13, ed_smlad(c[0], w02, a0));
        a1 = ed_smlad(c[3], w13, ed_smlad(c[2], w02, a1));
        a2 = ed_smlad(c[5], w13, ed_smlad(c[4], w02, a2));
        a3 = ed_smlad(c[7], w13, ed_smlad(c[6], w02, a3));
    }
#else
    for (int32_t i = 0; i < count; i++, values += 4)
    {
        const int16_t *c = col + ed_sparse_index(index8, index16, i, wide) * 4 * ED_SPARSE_COLUMNS;
        for (int32_t e = 0; e < 4; e++, c += ED_SPARSE_COLUMNS)
        {
            const int32_t w = values[e];
            a0 += c[0] * w;
            a1 += c[1] * w;
            a2 += c[2] * w;
            a3 += c[3] * w;
        }
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return values;
}

/* The same for one nonzero weight per index (natural-order columns on both paths). */
static inline __attribute__((always_inline)) const int8_t *
ed_csr_row4(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
            int wide, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t i = 0; i < count; i++)
    {
        const int16_t *c = col + ed_sparse_index(index8, index16, i, wide) * ED_SPARSE_COLUMNS;
        const int32_t w = values[i];
        a0 += c[0] * w;
        a1 += c[1] * w;
        a2 += c[2] * w;
        a3 += c[3] * w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return values + count;
}

/* All output channels of one block of up to four positions (columns), with the kernel
 * variant fixed at compile time (group4, wide are constants at every call). */
static inline __attribute__((always_inline)) void
ed_sparse_conv_block(const int16_t *col, const ed_sparse_weights_s8 *filter, const int32_t *bias,
                     const cmsis_nn_per_channel_quant_params *quant, const cmsis_nn_conv_params *p, int32_t cout,
                     int32_t columns, int8_t *out, int group4, int wide)
{
    const int8_t *values = filter->values;
    const uint8_t *index8 = filter->index8;
    const uint16_t *index16 = filter->index16;
    const int32_t offset = p->output_offset;
    const int32_t act_min = p->activation.min;
    const int32_t act_max = p->activation.max;
    for (int32_t oc = 0; oc < cout; oc++)
    {
        const int32_t count = filter->row_counts[oc];
        const int32_t b = bias ? bias[oc] : 0;
        int32_t acc[4] = {b, b, b, b};
        values = group4 ? ed_group_row4(col, values, index8, index16, count, wide, acc)
                        : ed_csr_row4(col, values, index8, index16, count, wide, acc);
        if (wide)
        {
            index16 += count;
        }
        else
        {
            index8 += count;
        }
        const ed_requant_out_t q = ed_requant_out_prepare(quant->multiplier[oc], quant->shift[oc], offset);
        if (columns == ED_SPARSE_COLUMNS)
        {
            out[oc] = ed_requant_out_s8(&q, acc[0], act_min, act_max);
            out[cout + oc] = ed_requant_out_s8(&q, acc[1], act_min, act_max);
            out[2 * cout + oc] = ed_requant_out_s8(&q, acc[2], act_min, act_max);
            out[3 * cout + oc] = ed_requant_out_s8(&q, acc[3], act_min, act_max);
        }
        else
        {
            for (int32_t j = 0; j < columns; j++)
            {
                out[j * cout + oc] = ed_requant_out_s8(&q, acc[j], act_min, act_max);
            }
        }
    }
}

static arm_cmsis_nn_status ed_convolve_sparse(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *p,
                                              const cmsis_nn_per_channel_quant_params *quant,
                                              const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                              const cmsis_nn_dims *filter_dims, const ed_sparse_weights_s8 *filter,
                                              const int32_t *bias, const cmsis_nn_dims *output_dims,
                                              int8_t *output_data, int32_t group_size)
{
    const int32_t cin = input_dims->c;
    const int32_t cout = output_dims->c;
    const int32_t k_total = filter_dims->h * filter_dims->w * cin;
    if (filter_dims->c != cin || filter_dims->n != cout || !ed_sparse_weights_valid(filter, k_total, group_size))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    if (ctx == NULL || ctx->buf == NULL || ctx->size < ed_convolve_sparse_s8_get_buffer_size(input_dims, filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    /* The DSP path's group kernel reads pair-order columns; everything else natural order. */
    const int pair_order = ED_NN_DSP && group_size == 4;
    const int wide = filter->index16 != NULL;
    int16_t *col = (int16_t *)ctx->buf;
    const int32_t out_w = output_dims->w;
    const int32_t positions = output_dims->h * out_w;

    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * positions * cout;
        for (int32_t pos = 0; pos < positions; pos += ED_SPARSE_COLUMNS)
        {
            const int32_t columns = ed_min_i32(ED_SPARSE_COLUMNS, positions - pos);
            for (int32_t j = 0; j < ED_SPARSE_COLUMNS; j++)
            {
                if (j < columns)
                {
                    ed_sparse_conv_column(p, input_dims, input, filter_dims, (pos + j) / out_w, (pos + j) % out_w,
                                          col, j, pair_order);
                }
                else
                {
                    ed_sparse_zero_column(col, k_total, j, pair_order);
                }
            }
            int8_t *out = output + pos * cout;
            if (group_size == 4)
            {
                if (wide)
                {
                    ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 1, 1);
                }
                else
                {
                    ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 1, 0);
                }
            }
            else if (wide)
            {
                ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 0, 1);
            }
            else
            {
                ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 0, 0);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_convolve_group_sparse_s8(const cmsis_nn_context *ctx,
                                                const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_per_channel_quant_params *quant_params,
                                                const cmsis_nn_dims *input_dims,
                                                const int8_t *input_data,
                                                const cmsis_nn_dims *filter_dims,
                                                const ed_sparse_weights_s8 *filter,
                                                const cmsis_nn_dims *bias_dims,
                                                const int32_t *bias_data,
                                                const cmsis_nn_dims *output_dims,
                                                int8_t *output_data)
{
    (void)bias_dims;
    return ed_convolve_sparse(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter, bias_data,
                              output_dims, output_data, 4);
}

arm_cmsis_nn_status ed_convolve_csr_s8(const cmsis_nn_context *ctx,
                                       const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims,
                                       const int8_t *input_data,
                                       const cmsis_nn_dims *filter_dims,
                                       const ed_sparse_weights_s8 *filter,
                                       const cmsis_nn_dims *bias_dims,
                                       const int32_t *bias_data,
                                       const cmsis_nn_dims *output_dims,
                                       int8_t *output_data)
{
    (void)bias_dims;
    return ed_convolve_sparse(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter, bias_data,
                              output_dims, output_data, 1);
}

int32_t ed_convolve_sparse_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
    const int32_t k_total = filter_dims->h * filter_dims->w * input_dims->c;
    return ED_SPARSE_COLUMNS * ed_sparse_padded(k_total) * (int32_t)sizeof(int16_t);
}
