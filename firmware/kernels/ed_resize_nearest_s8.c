/*
 * ed_resize_nearest_s8.c - nearest-neighbour resize of an NHWC s8 image by row and column index
 * tables (ed_elementwise.h): each output pixel is a memcpy of C bytes.
 */
#include "ed_elementwise.h"
#include "ed_nn_support.h"

arm_cmsis_nn_status ed_resize_nearest_s8(const int8_t *input,
                                         const cmsis_nn_dims *input_dims,
                                         const int16_t *rows,
                                         const int16_t *cols,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output)
{
    const int32_t c = input_dims->c;
    const int32_t row_bytes = input_dims->w * c;
    for (int32_t n = 0; n < output_dims->n; n++) {
        const int8_t *image = input + n * input_dims->h * row_bytes;
        for (int32_t y = 0; y < output_dims->h; y++) {
            const int8_t *row = image + rows[y] * row_bytes;
            for (int32_t x = 0; x < output_dims->w; x++) {
                memcpy(output, row + cols[x] * c, (size_t)c);
                output += c;
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
