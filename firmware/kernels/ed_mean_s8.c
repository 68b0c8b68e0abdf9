/*
 * ed_mean_s8.c - MEAN over any set of the four NHWC axes (ed_reduce.h). One path for the SIMD
 * and portable builds: a reduction reads every input byte once and is bound by the loads, and
 * global average pooling, the common case, is small next to the layers before it.
 */
#include "ed_nn_support.h"
#include "ed_reduce.h"

arm_cmsis_nn_status ed_mean_s8(const int8_t *input,
                               const cmsis_nn_dims *dims,
                               uint32_t axis_mask,
                               int32_t input_offset,
                               int32_t output_offset,
                               int32_t multiplier,
                               int32_t shift,
                               int8_t *output)
{
    const int32_t size[4] = {dims->n, dims->h, dims->w, dims->c};
    /* Per axis: the output's extent, and how many input elements one output element spans
     * (a reduced axis: 1 and the whole axis; a kept one: the axis and 1). */
    int32_t out_size[4];
    int32_t span[4];
    for (int32_t a = 0; a < 4; a++)
    {
        const int reduced = (axis_mask >> a) & 1u;
        out_size[a] = reduced ? 1 : size[a];
        span[a] = reduced ? size[a] : 1;
    }
    for (int32_t n = 0; n < out_size[0]; n++)
    {
        for (int32_t h = 0; h < out_size[1]; h++)
        {
            for (int32_t w = 0; w < out_size[2]; w++)
            {
                for (int32_t c = 0; c < out_size[3]; c++)
                {
                    /* The sum wraps modulo 2^32, as TFLite's int32 accumulator does. */
                    uint32_t acc = 0;
                    for (int32_t i = n; i < n + span[0]; i++)
                    {
                        for (int32_t y = h; y < h + span[1]; y++)
                        {
                            for (int32_t x = w; x < w + span[2]; x++)
                            {
                                const int8_t *row = input + ((i * size[1] + y) * size[2] + x) * size[3];
                                for (int32_t k = c; k < c + span[3]; k++)
                                {
                                    acc += (uint32_t)(row[k] + input_offset);
                                }
                            }
                        }
                    }
                    int32_t value = ed_requantize((int32_t)acc, multiplier, shift) + output_offset;
                    value = value < -128 ? -128 : (value > 127 ? 127 : value);
                    *output++ = (int8_t)value;
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
