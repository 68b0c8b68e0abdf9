/*
 * arm_convolve_s8.c - s8 convolution (TFLite CONV_2D, per-channel int8), edge-deploy's own
 * implementation of the CMSIS-NN function of that name. Written from the public API
 * description and the TFLite arithmetic; no CMSIS-NN code.
 *
 * DSP path: for two output positions at a time, the input patch ("column") is widened to
 * int16 with the input offset added, in the order SXTB16 unpacks a weight word (x0,x2 then
 * x1,x3), so each four weights cost one load and two SXTB16 and feed two SMLAD per column.
 * Two output channels share every column load: 2 x 2 outputs per inner loop.
 * Portable path: direct loops, one output at a time.
 */
#include "ed_nn_support.h"

#if ED_NN_DSP

/* Two widened columns share one buffer, interleaved per group of four patch elements:
 * [col0 x0,x2,x1,x3][col1 x0,x2,x1,x3] per group (so one pointer walks both), then the
 * k_total % 4 tail elements of col0, then those of col1, in natural order. */
static inline int32_t ed_column_index(int32_t k, int32_t k_grouped, int32_t k_total, int32_t which)
{
    static const int8_t order[4] = {0, 2, 1, 3};
    if (k < k_grouped)
    {
        return (k & ~3) * 2 + which * 4 + order[k & 3];
    }
    return k_grouped * 2 + which * (k_total - k_grouped) + (k - k_grouped);
}

/* Widens n bytes (n a multiple of 4) from src, offset added, into column `which` starting at
 * the group of patch element k0 (a multiple of 4). */
static inline void ed_widen_run(const int8_t *src, int16_t *col, int32_t k0, int32_t n, int32_t which,
                                uint32_t offset2)
{
    int16_t *dst = col + k0 * 2 + which * 4;
    for (int32_t i = 0; i < n; i += 4, dst += 8)
    {
        const uint32_t word = ed_read_u32(src + i);
        ed_write_u32(dst, ed_sadd16(ed_sxtb16(word), offset2));
        ed_write_u32(dst + 2, ed_sadd16(ed_sxtb16_ror8(word), offset2));
    }
}

/* Builds widened column `which` of output position (out_y, out_x). Out-of-bounds taps are
 * the input zero point, i.e. 0 once the offset is added. */
static void ed_conv_column(const cmsis_nn_conv_params *p, const cmsis_nn_dims *in, const int8_t *input,
                           const cmsis_nn_dims *flt, int32_t out_y, int32_t out_x, int16_t *col, int32_t which)
{
    const int32_t cin = in->c;
    const int32_t k_total = flt->h * flt->w * cin;
    const int32_t k_grouped = k_total & ~3;
    const int32_t row_len = flt->w * cin;
    const int32_t base_y = out_y * p->stride.h - p->padding.h;
    const int32_t base_x = out_x * p->stride.w - p->padding.w;
    const uint32_t offset2 = ed_dup16(p->input_offset);
    const int rows_widen_whole = (row_len % 4) == 0 && p->dilation.w == 1;
    const int x_inside = base_x >= 0 && base_x + flt->w <= in->w;

    /* Whole patch is one contiguous run: the common 1-D convolution case. */
    if (flt->h == 1 && p->dilation.w == 1 && x_inside && base_y >= 0 && base_y < in->h)
    {
        const int8_t *src = input + (base_y * in->w + base_x) * cin;
        ed_widen_run(src, col, 0, k_grouped, which, offset2);
        for (int32_t k = k_grouped; k < k_total; k++)
        {
            col[ed_column_index(k, k_grouped, k_total, which)] = (int16_t)(src[k] + p->input_offset);
        }
        return;
    }
    int32_t k = 0;
    for (int32_t ky = 0; ky < flt->h; ky++)
    {
        const int32_t iy = base_y + ky * p->dilation.h;
        const int y_inside = iy >= 0 && iy < in->h;
        if (rows_widen_whole && y_inside && x_inside)
        {
            ed_widen_run(input + (iy * in->w + base_x) * cin, col, k, row_len, which, offset2);
            k += row_len;
            continue;
        }
        for (int32_t kx = 0; kx < flt->w; kx++)
        {
            const int32_t ix = base_x + kx * p->dilation.w;
            const int inside = y_inside && ix >= 0 && ix < in->w;
            const int8_t *src = input + (iy * in->w + ix) * cin;
            for (int32_t c = 0; c < cin; c++, k++)
            {
                col[ed_column_index(k, k_grouped, k_total, which)] =
                    inside ? (int16_t)(src[c] + p->input_offset) : 0;
            }
        }
    }
}

/* Filter rows w0 (and w1 when not NULL) against column 0 (and column 1 when both_columns):
 * acc = {row0.col0, row0.col1, row1.col0, row1.col1}. The 2 x 2 case is the hot loop:
 * per four patch elements, four column words, two weight words, four SXTB16, eight SMLAD. */
static inline void ed_conv_dot(const int8_t *w0, const int8_t *w1, const int16_t *col, int32_t k_total,
                               int both_columns, int32_t acc[4])
{
    const int32_t k_grouped = k_total & ~3;
    const uint32_t *c = (const uint32_t *)(const void *)col;
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    if (w1 != NULL && both_columns)
    {
        const int8_t *end = w0 + k_grouped;
        while (w0 < end)
        {
            const uint32_t x02 = c[0], x13 = c[1], y02 = c[2], y13 = c[3];
            c += 4;
            uint32_t wword = ed_read_u32(w0);
            w0 += 4;
            uint32_t w02 = ed_sxtb16(wword);
            uint32_t w13 = ed_sxtb16_ror8(wword);
            a00 = ed_smlad(x02, w02, a00);
            a00 = ed_smlad(x13, w13, a00);
            a01 = ed_smlad(y02, w02, a01);
            a01 = ed_smlad(y13, w13, a01);
            wword = ed_read_u32(w1);
            w1 += 4;
            w02 = ed_sxtb16(wword);
            w13 = ed_sxtb16_ror8(wword);
            a10 = ed_smlad(x02, w02, a10);
            a10 = ed_smlad(x13, w13, a10);
            a11 = ed_smlad(y02, w02, a11);
            a11 = ed_smlad(y13, w13, a11);
        }
    }
    else
    {
        /* Edge blocks (odd channel or position count): one or two rows, one or two columns. */
        for (int32_t k = 0; k < k_grouped; k += 4, c += 4, w0 += 4)
        {
            uint32_t wword = ed_read_u32(w0);
            a00 = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), a00));
            if (both_columns)
            {
                a01 = ed_smlad(c[3], ed_sxtb16_ror8(wword), ed_smlad(c[2], ed_sxtb16(wword), a01));
            }
            if (w1 != NULL)
            {
                wword = ed_read_u32(w1);
                w1 += 4;
                a10 = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), a10));
            }
        }
    }
    /* Tails: w0/w1 now point at element k_grouped of their rows. */
    const int32_t tail = k_total - k_grouped;
    const int16_t *t0 = col + k_grouped * 2;
    const int16_t *t1 = t0 + tail;
    for (int32_t i = 0; i < tail; i++)
    {
        a00 += t0[i] * w0[i];
        if (both_columns)
        {
            a01 += t1[i] * w0[i];
        }
        if (w1 != NULL)
        {
            a10 += t0[i] * w1[i];
            if (both_columns)
            {
                a11 += t1[i] * w1[i];
            }
        }
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

#endif /* ED_NN_DSP */

arm_cmsis_nn_status arm_convolve_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_conv_params *conv_params,
                                    const cmsis_nn_per_channel_quant_params *quant_params,
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
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c;
    const int32_t cout = output_dims->c;
    const int32_t k_total = filter_dims->h * filter_dims->w * cin;
    const int32_t *mult = quant_params->multiplier;
    const int32_t *shift = quant_params->shift;
    const int32_t act_min = p->activation.min;
    const int32_t act_max = p->activation.max;

    if (filter_dims->c != cin || filter_dims->n != cout)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }

#if ED_NN_DSP
    if (ctx == NULL || ctx->buf == NULL)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    int16_t *col = (int16_t *)ctx->buf;
    const int32_t out_w = output_dims->w;
    const int32_t positions = output_dims->h * out_w;
    const int32_t offset = p->output_offset;

    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * positions * cout;
        for (int32_t pos = 0; pos < positions; pos += 2)
        {
            const int both = pos + 1 < positions;
            ed_conv_column(p, input_dims, input, filter_dims, pos / out_w, pos % out_w, col, 0);
            if (both)
            {
                ed_conv_column(p, input_dims, input, filter_dims, (pos + 1) / out_w, (pos + 1) % out_w, col, 1);
            }
            int8_t *out0 = output + pos * cout;
            int8_t *out1 = out0 + cout;
            for (int32_t oc = 0; oc < cout; oc += 2)
            {
                const int pair = oc + 1 < cout;
                const int32_t b0 = bias_data ? bias_data[oc] : 0;
                const int32_t b1 = (bias_data && pair) ? bias_data[oc + 1] : 0;
                int32_t acc[4] = {b0, b0, b1, b1};
                const int8_t *w0 = filter_data + oc * k_total;
                ed_conv_dot(w0, pair ? w0 + k_total : NULL, col, k_total, both, acc);
                out0[oc] = ed_requantize_to_s8(acc[0], mult[oc], shift[oc], offset, act_min, act_max);
                if (both)
                {
                    out1[oc] = ed_requantize_to_s8(acc[1], mult[oc], shift[oc], offset, act_min, act_max);
                }
                if (pair)
                {
                    out0[oc + 1] = ed_requantize_to_s8(acc[2], mult[oc + 1], shift[oc + 1], offset, act_min, act_max);
                    if (both)
                    {
                        out1[oc + 1] =
                            ed_requantize_to_s8(acc[3], mult[oc + 1], shift[oc + 1], offset, act_min, act_max);
                    }
                }
            }
        }
    }
#else
    (void)ctx;
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        for (int32_t oy = 0; oy < output_dims->h; oy++)
        {
            for (int32_t ox = 0; ox < output_dims->w; ox++)
            {
                const int32_t base_y = oy * p->stride.h - p->padding.h;
                const int32_t base_x = ox * p->stride.w - p->padding.w;
                for (int32_t oc = 0; oc < cout; oc++)
                {
                    const int8_t *w = filter_data + oc * k_total;
                    int32_t acc = bias_data ? bias_data[oc] : 0;
                    for (int32_t ky = 0; ky < filter_dims->h; ky++)
                    {
                        const int32_t iy = base_y + ky * p->dilation.h;
                        for (int32_t kx = 0; kx < filter_dims->w; kx++)
                        {
                            const int32_t ix = base_x + kx * p->dilation.w;
                            if (iy < 0 || iy >= input_dims->h || ix < 0 || ix >= input_dims->w)
                            {
                                continue; /* padding contributes (zero point + offset) * w = 0 */
                            }
                            const int8_t *src = input + (iy * input_dims->w + ix) * cin;
                            const int8_t *wk = w + (ky * filter_dims->w + kx) * cin;
                            for (int32_t c = 0; c < cin; c++)
                            {
                                acc += (src[c] + p->input_offset) * wk[c];
                            }
                        }
                    }
                    output_data[((n * output_dims->h + oy) * output_dims->w + ox) * cout + oc] =
                        ed_requantize_to_s8(acc, mult[oc], shift[oc], p->output_offset, act_min, act_max);
                }
            }
        }
    }
#endif
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t arm_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
#if ED_NN_DSP
    /* Two widened (int16) columns. */
    const int32_t k_total = filter_dims->h * filter_dims->w * input_dims->c;
    return 2 * k_total * (int32_t)sizeof(int16_t);
#else
    (void)input_dims;
    (void)filter_dims;
    return 0;
#endif
}
