/*
 * ed_reduce_max_s8.c - REDUCE_MAX over any set of the four NHWC axes (ed_reduce.h), the loops of
 * ed_mean_s8 with a maximum in place of the sum.
 */
#include "ed_nn_support.h"
#include "ed_reduce.h"

arm_cmsis_nn_status ed_reduce_max_s8(const int8_t *input, const cmsis_nn_dims *dims, uint32_t axis_mask,
                                     int8_t *output)
{
    const int32_t size[4] = {dims->n, dims->h, dims->w, dims->c};
    int32_t out_size[4];
    int32_t span[4];
    for (int32_t a = 0; a < 4; a++) {
        const int reduced = (axis_mask >> a) & 1u;
        out_size[a] = reduced ? 1 : size[a];
        span[a] = reduced ? size[a] : 1;
    }
    for (int32_t n = 0; n < out_size[0]; n++) {
        for (int32_t h = 0; h < out_size[1]; h++) {
            for (int32_t w = 0; w < out_size[2]; w++) {
                for (int32_t c = 0; c < out_size[3]; c++) {
                    int8_t best = -128;
                    for (int32_t i = n; i < n + span[0]; i++) {
                        for (int32_t y = h; y < h + span[1]; y++) {
                            for (int32_t x = w; x < w + span[2]; x++) {
                                const int8_t *row = input + ((i * size[1] + y) * size[2] + x) * size[3];
                                for (int32_t k = c; k < c + span[3]; k++) {
                                    best = row[k] > best ? row[k] : best;
                                }
                            }
                        }
                    }
                    *output++ = best;
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
