/*
 * ed_avgpool_s8.c - AVERAGE_POOL_2D, int8 (ed_pool.h): TFLite's arithmetic (the taps inside the
 * input counted, the mean rounded half away from zero).
 *
 * DSP path: sixteen channels per pass, four words per tap summed into eight registers of two
 * 16-bit lanes (SXTAB16, exact while the window has at most 256 taps), the window walked with a
 * pointer step per tap and per row; then four channels per pass, then one. Portable path: one
 * channel at a time in 32 bits.
 */
#include "ed_pool.h"
#include "ed_nn_support.h"

/* Largest window whose byte sum always fits a signed 16-bit lane: 256 * 128 <= 32768. */
#define ED_AVGPOOL_MAX_LANE_TAPS 256

/* sum / count rounded half away from zero (the division truncates toward zero, so half of
 * count goes in with the sum's sign; a sum of 0 gives 0 either way), clamped. No branch. */
static inline int8_t ed_average(int32_t sum, int32_t count, int32_t act_min, int32_t act_max)
{
    const int32_t sign = sum >> 31;
    const int32_t avg = (sum + (((count >> 1) ^ sign) - sign)) / count;
    return (int8_t)ed_min_i32(ed_max_i32(avg, act_min), act_max);
}

#if ED_NN_DSP
/* Four channels' averages from the two-lane sums of channels 0 and 2 (s02) and 1 and 3 (s13).
 * Not inlined: its four divisions once in the code, not at each of the five places that call it
 * (640 B of flash; a call per four outputs of a pool). */
__attribute__((noinline)) static void ed_average4(int8_t *out, uint32_t s02, uint32_t s13, int32_t count, int32_t act_min,
                               int32_t act_max)
{
    out[0] = ed_average((int16_t)(s02 & 0xFFFFu), count, act_min, act_max);
    out[1] = ed_average((int16_t)(s13 & 0xFFFFu), count, act_min, act_max);
    out[2] = ed_average((int16_t)(s02 >> 16), count, act_min, act_max);
    out[3] = ed_average((int16_t)(s13 >> 16), count, act_min, act_max);
}
#endif

arm_cmsis_nn_status ed_avgpool_s8(const cmsis_nn_context *ctx,
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
    const int32_t in_w = input_dims->w;
    const int32_t act_min = p->activation.min;
    const int32_t act_max = p->activation.max;
    const int32_t batches = input_dims->n > 0 ? input_dims->n : 1;

    for (int32_t n = 0; n < batches; n++) {
        const int8_t *input = input_data + n * input_dims->h * in_w * channels;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            const int32_t y0 = oy * p->stride.h - p->padding.h;
            const int32_t ky_start = ed_max_i32(0, -y0);
            const int32_t ky_end = ed_min_i32(filter_dims->h, input_dims->h - y0);
            for (int32_t ox = 0; ox < output_dims->w; ox++) {
                const int32_t x0 = ox * p->stride.w - p->padding.w;
                const int32_t kx_start = ed_max_i32(0, -x0);
                const int32_t kx_end = ed_min_i32(filter_dims->w, in_w - x0);
                const int32_t rows = ed_max_i32(ky_end - ky_start, 0);
                const int32_t cols = ed_max_i32(kx_end - kx_start, 0);
                const int32_t count = rows * cols;
                int8_t *out = output_data + ((n * output_dims->h + oy) * output_dims->w + ox) * channels;
                if (count == 0) {
                    /* TFLite leaves a window with no valid tap undefined; write the clamped zero. */
                    memset(out, (int8_t)ed_min_i32(ed_max_i32(0, act_min), act_max), (size_t)channels);
                    continue;
                }
                /* The window's first tap, and the step from a row's end to the next row's start. */
                const int8_t *first = input + ((y0 + ky_start) * in_w + x0 + kx_start) * channels;
                const int32_t row_skip = (in_w - cols) * channels;
                int32_t c = 0;
#if ED_NN_DSP
                if (count <= ED_AVGPOOL_MAX_LANE_TAPS) {
                    for (; c + 16 <= channels; c += 16) {
                        uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
                        const int8_t *tap = first + c;
                        for (int32_t ky = 0; ky < rows; ky++) {
                            for (int32_t kx = 0; kx < cols; kx++) {
                                const uint32_t w0 = ed_read_u32(tap);
                                const uint32_t w1 = ed_read_u32(tap + 4);
                                const uint32_t w2 = ed_read_u32(tap + 8);
                                const uint32_t w3 = ed_read_u32(tap + 12);
                                tap += channels;
                                s0 = ed_sxtab16(s0, w0);
                                s1 = ed_sxtab16_ror8(s1, w0);
                                s2 = ed_sxtab16(s2, w1);
                                s3 = ed_sxtab16_ror8(s3, w1);
                                s4 = ed_sxtab16(s4, w2);
                                s5 = ed_sxtab16_ror8(s5, w2);
                                s6 = ed_sxtab16(s6, w3);
                                s7 = ed_sxtab16_ror8(s7, w3);
                            }
                            tap += row_skip;
                        }
                        ed_average4(out + c, s0, s1, count, act_min, act_max);
                        ed_average4(out + c + 4, s2, s3, count, act_min, act_max);
                        ed_average4(out + c + 8, s4, s5, count, act_min, act_max);
                        ed_average4(out + c + 12, s6, s7, count, act_min, act_max);
                    }
                    for (; c + 4 <= channels; c += 4) {
                        uint32_t s02 = 0, s13 = 0;
                        const int8_t *tap = first + c;
                        for (int32_t ky = 0; ky < rows; ky++) {
                            for (int32_t kx = 0; kx < cols; kx++) {
                                const uint32_t w = ed_read_u32(tap);
                                s02 = ed_sxtab16(s02, w);
                                s13 = ed_sxtab16_ror8(s13, w);
                                tap += channels;
                            }
                            tap += row_skip;
                        }
                        ed_average4(out + c, s02, s13, count, act_min, act_max);
                    }
                }
#endif
                for (; c < channels; c++) {
                    int32_t sum = 0;
                    const int8_t *tap = first + c;
                    for (int32_t ky = 0; ky < rows; ky++) {
                        for (int32_t kx = 0; kx < cols; kx++) {
                            sum += *tap;
                            tap += channels;
                        }
                        tap += row_skip;
                    }
                    out[c] = ed_average(sum, count, act_min, act_max);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_avgpool_s8_get_buffer_size(int32_t output_width, int32_t channels)
{
    (void)output_width;
    (void)channels;
    return 0;
}
