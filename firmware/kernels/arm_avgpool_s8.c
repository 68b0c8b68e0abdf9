/*
 * arm_avgpool_s8.c - s8 average pooling (TFLite AVERAGE_POOL_2D), edge-deploy's own
 * implementation of the CMSIS-NN function of that name, with its _get_buffer_size. Written
 * from the public API description and the TFLite arithmetic; no CMSIS-NN code.
 *
 * The average counts only taps inside the input and rounds half away from zero, as TFLite.
 * DSP path: four channels per word, summed into 16-bit lanes with SXTAB16 (exact while the
 * window has at most 256 taps). Portable path: one channel at a time in 32 bits.
 */
#include "ed_nn_support.h"

/* Largest window whose byte sum always fits a signed 16-bit lane: 256 * 127 < 32768. */
#define ED_AVGPOOL_MAX_LANE_TAPS 256

static inline int8_t ed_average(int32_t sum, int32_t count, const cmsis_nn_pool_params *p)
{
    int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    avg = ed_max_i32(avg, p->activation.min);
    return (int8_t)ed_min_i32(avg, p->activation.max);
}

arm_cmsis_nn_status arm_avgpool_s8(const cmsis_nn_context *ctx,
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
                const int32_t count = ed_max_i32(ky_end - ky_start, 0) * ed_max_i32(kx_end - kx_start, 0);
                int8_t *out = output_data + ((n * output_dims->h + oy) * output_dims->w + ox) * channels;
                if (count == 0)
                {
                    /* TFLite leaves a window with no valid tap undefined; write the clamped zero. */
                    memset(out, (int8_t)ed_min_i32(ed_max_i32(0, p->activation.min), p->activation.max),
                           (size_t)channels);
                    continue;
                }
                int32_t c = 0;
#if ED_NN_DSP
                if (count <= ED_AVGPOOL_MAX_LANE_TAPS)
                {
                    for (; c + 3 < channels; c += 4)
                    {
                        uint32_t sum02 = 0, sum13 = 0;
                        for (int32_t ky = ky_start; ky < ky_end; ky++)
                        {
                            const int8_t *row = input + ((y0 + ky) * input_dims->w + x0) * channels + c;
                            for (int32_t kx = kx_start; kx < kx_end; kx++)
                            {
                                const uint32_t word = ed_read_u32(row + kx * channels);
                                sum02 = ed_sxtab16(sum02, word);
                                sum13 = ed_sxtab16_ror8(sum13, word);
                            }
                        }
                        out[c] = ed_average((int16_t)(sum02 & 0xFFFFu), count, p);
                        out[c + 1] = ed_average((int16_t)(sum13 & 0xFFFFu), count, p);
                        out[c + 2] = ed_average((int16_t)(sum02 >> 16), count, p);
                        out[c + 3] = ed_average((int16_t)(sum13 >> 16), count, p);
                    }
                }
#endif
                for (; c < channels; c++)
                {
                    int32_t sum = 0;
                    for (int32_t ky = ky_start; ky < ky_end; ky++)
                    {
                        for (int32_t kx = kx_start; kx < kx_end; kx++)
                        {
                            sum += input[((y0 + ky) * input_dims->w + x0 + kx) * channels + c];
                        }
                    }
                    out[c] = ed_average(sum, count, p);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t arm_avgpool_s8_get_buffer_size(const int dim_dst_width, const int ch_src)
{
    (void)dim_dst_width;
    (void)ch_src;
    return 0;
}
