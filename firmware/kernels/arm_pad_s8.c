/*
 * arm_pad_s8.c - pads an NHWC s8 tensor (TFLite PAD / PADV2), edge-deploy's own
 * implementation of the CMSIS-NN function of that name. Written from the public API
 * description; no CMSIS-NN code. Pure data movement: one path, built on memset / memcpy.
 */
#include "ed_nn_support.h"

arm_cmsis_nn_status arm_pad_s8(const int8_t *input,
                               int8_t *output,
                               const int8_t pad_value,
                               const cmsis_nn_dims *input_size,
                               const cmsis_nn_dims *pre_pad,
                               const cmsis_nn_dims *post_pad)
{
    const int32_t out_h = pre_pad->h + input_size->h + post_pad->h;
    const int32_t out_w = pre_pad->w + input_size->w + post_pad->w;
    const int32_t out_c = pre_pad->c + input_size->c + post_pad->c;
    const int32_t out_n = pre_pad->n + input_size->n + post_pad->n;
    const size_t row_bytes = (size_t)out_w * (size_t)out_c;
    const size_t image_bytes = row_bytes * (size_t)out_h;

    /* Fill everything, then copy the input rows into the interior: simple and exact. */
    memset(output, pad_value, image_bytes * (size_t)out_n);
    for (int32_t n = 0; n < input_size->n; n++)
    {
        for (int32_t y = 0; y < input_size->h; y++)
        {
            for (int32_t x = 0; x < input_size->w; x++)
            {
                const int8_t *src = input + ((n * input_size->h + y) * input_size->w + x) * input_size->c;
                int8_t *dst = output + (size_t)(n + pre_pad->n) * image_bytes + (size_t)(y + pre_pad->h) * row_bytes +
                              (size_t)(x + pre_pad->w) * (size_t)out_c + (size_t)pre_pad->c;
                memcpy(dst, src, (size_t)input_size->c);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
