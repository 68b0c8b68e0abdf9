/*
 * arm_depthwise_conv_s8.c - s8 depthwise convolution (TFLite DEPTHWISE_CONV_2D, per-channel
 * int8), edge-deploy's own implementation of the CMSIS-NN function of that name. Written from
 * the public API description and the TFLite arithmetic; no CMSIS-NN code.
 *
 * DSP path (channel multiplier 1): four channels per step; a word of inputs and a word of
 * weights are unpacked with SXTB16 and multiplied half by half with SMLABB / SMLATT, so each
 * tap of four channels costs two loads, four unpacks, two offset adds and four MACs.
 * Other channel multipliers and the portable path use direct loops.
 */
#include "ed_nn_support.h"

/* One output channel at one position, direct loop (portable path and channel tails). */
static int32_t ed_dw_tap_sum(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *in, const int8_t *input,
                             const cmsis_nn_dims *flt, const int8_t *filter, int32_t cout, int32_t base_y,
                             int32_t base_x, int32_t ic, int32_t oc, int32_t acc)
{
    for (int32_t ky = 0; ky < flt->h; ky++)
    {
        const int32_t iy = base_y + ky * p->dilation.h;
        if (iy < 0 || iy >= in->h)
        {
            continue;
        }
        for (int32_t kx = 0; kx < flt->w; kx++)
        {
            const int32_t ix = base_x + kx * p->dilation.w;
            if (ix < 0 || ix >= in->w)
            {
                continue;
            }
            acc += (input[(iy * in->w + ix) * in->c + ic] + p->input_offset) * filter[(ky * flt->w + kx) * cout + oc];
        }
    }
    return acc;
}

#if ED_NN_DSP
/* Four channels starting at c, multiplier 1: accumulators in acc[0..3]. */
static inline void ed_dw_four_channels(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *in, const int8_t *input,
                                       const cmsis_nn_dims *flt, const int8_t *filter, int32_t base_y, int32_t base_x,
                                       int32_t c, int32_t acc[4])
{
    const uint32_t offset2 = ed_dup16(p->input_offset);
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t ky = 0; ky < flt->h; ky++)
    {
        const int32_t iy = base_y + ky * p->dilation.h;
        if (iy < 0 || iy >= in->h)
        {
            continue;
        }
        for (int32_t kx = 0; kx < flt->w; kx++)
        {
            const int32_t ix = base_x + kx * p->dilation.w;
            if (ix < 0 || ix >= in->w)
            {
                continue;
            }
            const uint32_t xword = ed_read_u32(input + (iy * in->w + ix) * in->c + c);
            const uint32_t wword = ed_read_u32(filter + (ky * flt->w + kx) * in->c + c);
            const uint32_t x02 = ed_sadd16(ed_sxtb16(xword), offset2);
            const uint32_t x13 = ed_sadd16(ed_sxtb16_ror8(xword), offset2);
            const uint32_t w02 = ed_sxtb16(wword);
            const uint32_t w13 = ed_sxtb16_ror8(wword);
            a0 = ed_smlabb(x02, w02, a0);
            a2 = ed_smlatt(x02, w02, a2);
            a1 = ed_smlabb(x13, w13, a1);
            a3 = ed_smlatt(x13, w13, a3);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

arm_cmsis_nn_status arm_depthwise_conv_s8(const cmsis_nn_context *ctx,
                                          const cmsis_nn_dw_conv_params *dw_conv_params,
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
    (void)ctx;
    (void)bias_dims;
    const cmsis_nn_dw_conv_params *p = dw_conv_params;
    const int32_t cin = input_dims->c;
    const int32_t cout = output_dims->c;
    const int32_t ch_mult = p->ch_mult;
    const int32_t *mult = quant_params->multiplier;
    const int32_t *shift = quant_params->shift;

    if (cin * ch_mult != cout || filter_dims->c != cout)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        for (int32_t oy = 0; oy < output_dims->h; oy++)
        {
            for (int32_t ox = 0; ox < output_dims->w; ox++)
            {
                const int32_t base_y = oy * p->stride.h - p->padding.h;
                const int32_t base_x = ox * p->stride.w - p->padding.w;
                int8_t *out = output_data + ((n * output_dims->h + oy) * output_dims->w + ox) * cout;
                int32_t oc = 0;
#if ED_NN_DSP
                if (ch_mult == 1)
                {
                    for (; oc + 3 < cout; oc += 4)
                    {
                        int32_t acc[4];
                        for (int32_t i = 0; i < 4; i++)
                        {
                            acc[i] = bias_data ? bias_data[oc + i] : 0;
                        }
                        ed_dw_four_channels(p, input_dims, input, filter_dims, filter_data, base_y, base_x, oc, acc);
                        for (int32_t i = 0; i < 4; i++)
                        {
                            out[oc + i] = ed_requantize_to_s8(acc[i], mult[oc + i], shift[oc + i], p->output_offset,
                                                              p->activation.min, p->activation.max);
                        }
                    }
                }
#endif
                for (; oc < cout; oc++)
                {
                    const int32_t acc = ed_dw_tap_sum(p, input_dims, input, filter_dims, filter_data, cout, base_y,
                                                      base_x, oc / ch_mult, oc, bias_data ? bias_data[oc] : 0);
                    out[oc] = ed_requantize_to_s8(acc, mult[oc], shift[oc], p->output_offset, p->activation.min,
                                                  p->activation.max);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
