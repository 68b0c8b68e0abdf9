/*
 * arm_max_pool_s8.c - s8 max pooling (TFLite MAX_POOL_2D), edge-deploy's own implementation of
 * the CMSIS-NN function of that name. Written from the public API description and the TFLite
 * arithmetic; no CMSIS-NN code.
 *
 * Window taps outside the input (padding) are skipped. DSP path: four channels per word,
 * bytewise maximum with SSUB8 + SEL. Portable path: one channel at a time.
 */
#include "ed_nn_support.h"

arm_cmsis_nn_status arm_max_pool_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_pool_params *pool_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *input_data,
                                    const cmsis_nn_dims *filter_dims,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *output_data)
{
    (void)ctx;
    const cmsis_nn_pool_params *p = pool_params;
    const int32_t channels = input_dims->c;
    const int32_t batches = input_dims->n > 0 ? input_dims->n : 1;

#if ED_NN_DSP
    /* TICNN's pools: one row, window 2 and stride 2, no padding, no upper clamp, channels a
     * multiple of 4. The whole layer is one stream: two words in, their bytewise maximum out. */
    if (input_dims->h == 1 && output_dims->h == 1 && filter_dims->h == 1 && filter_dims->w == 2 && p->stride.w == 2 &&
        p->padding.w == 0 && p->padding.h == 0 && (channels & 3) == 0 && 2 * output_dims->w <= input_dims->w &&
        p->activation.max == 127)
    {
        const uint32_t act_min4 = 0x01010101u * (uint8_t)p->activation.min;
        const int clamp_min = p->activation.min > -128;
        for (int32_t n = 0; n < batches; n++)
        {
            const int8_t *in = input_data + n * input_dims->w * channels;
            int8_t *out = output_data + n * output_dims->w * channels;
            for (int32_t ox = 0; ox < output_dims->w; ox++, in += 2 * channels, out += channels)
            {
                for (int32_t c = 0; c < channels; c += 4)
                {
                    uint32_t best = ed_max4_s8(ed_read_u32(in + c), ed_read_u32(in + channels + c));
                    if (clamp_min)
                    {
                        best = ed_max4_s8(best, act_min4);
                    }
                    ed_write_u32(out + c, best);
                }
            }
        }
        return ARM_CMSIS_NN_SUCCESS;
    }
#endif
    for (int32_t n = 0; n < batches; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * channels;
        for (int32_t oy = 0; oy < output_dims->h; oy++)
        {
            const int32_t y0 = oy * p->stride.h - p->padding.h;
            const int32_t ky_start = ed_max_i32(0, -y0);
            const int32_t ky_end = ed_min_i32(filter_dims->h, input_dims->h - y0);
            for (int32_t ox = 0; ox < output_dims->w; ox++)
            {
                const int32_t x0 = ox * p->stride.w - p->padding.w;
                const int32_t kx_start = ed_max_i32(0, -x0);
                const int32_t kx_end = ed_min_i32(filter_dims->w, input_dims->w - x0);
                int8_t *out = output_data + ((n * output_dims->h + oy) * output_dims->w + ox) * channels;
                int32_t c = 0;
#if ED_NN_DSP
                const uint32_t act_min4 = 0x01010101u * (uint8_t)p->activation.min;
                if (ky_end - ky_start == 1 && kx_end - kx_start == 2 && p->activation.max == 127)
                {
                    /* Two taps in one row (TICNN's 1-D pool 2): two words, SSUB8 + SEL, one
                     * store per four channels, and no clamp when act_min is -128. */
                    const int8_t *tap0 = input + ((y0 + ky_start) * input_dims->w + x0 + kx_start) * channels;
                    const int8_t *tap1 = tap0 + channels;
                    const int clamp_min = p->activation.min > -128;
                    for (; c + 3 < channels; c += 4)
                    {
                        uint32_t best = ed_max4_s8(ed_read_u32(tap0 + c), ed_read_u32(tap1 + c));
                        if (clamp_min)
                        {
                            best = ed_max4_s8(best, act_min4);
                        }
                        ed_write_u32(out + c, best);
                    }
                }
                for (; c + 3 < channels; c += 4)
                {
                    uint32_t best = 0x80808080u; /* -128 in every byte */
                    for (int32_t ky = ky_start; ky < ky_end; ky++)
                    {
                        const int8_t *row = input + ((y0 + ky) * input_dims->w + x0) * channels + c;
                        for (int32_t kx = kx_start; kx < kx_end; kx++)
                        {
                            best = ed_max4_s8(best, ed_read_u32(row + kx * channels));
                        }
                    }
                    best = ed_max4_s8(best, act_min4);
                    if (p->activation.max < 127)
                    {
                        /* min(a, b) = -max(-a, -b) would overflow at -128; clamp bytes instead. */
                        for (int32_t i = 0; i < 4; i++)
                        {
                            const int8_t v = (int8_t)((best >> (8 * i)) & 0xFFu);
                            out[c + i] = (int8_t)ed_min_i32(v, p->activation.max);
                        }
                    }
                    else
                    {
                        ed_write_u32(out + c, best);
                    }
                }
#endif
                for (; c < channels; c++)
                {
                    int32_t best = -128;
                    for (int32_t ky = ky_start; ky < ky_end; ky++)
                    {
                        for (int32_t kx = kx_start; kx < kx_end; kx++)
                        {
                            best = ed_max_i32(best, input[((y0 + ky) * input_dims->w + x0 + kx) * channels + c]);
                        }
                    }
                    best = ed_max_i32(best, p->activation.min);
                    out[c] = (int8_t)ed_min_i32(best, p->activation.max);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
