/*
 * ed_strided_slice_s8.c - a strided window of an NHWC s8 tensor (ed_elementwise.h). Rows of
 * unit stride along C are memcpy'd.
 */
#include "ed_elementwise.h"
#include "ed_nn_support.h"

arm_cmsis_nn_status ed_strided_slice_s8(const int8_t *input,
                                        const cmsis_nn_dims *input_dims,
                                        const int32_t *begin,
                                        const int32_t *stride,
                                        const cmsis_nn_dims *output_dims,
                                        int8_t *output)
{
    const int32_t in_size[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
    const int32_t out_size[4] = {output_dims->n, output_dims->h, output_dims->w, output_dims->c};
    int32_t step[4];
    step[3] = stride[3];
    int32_t axis_stride = in_size[3];
    for (int32_t k = 2; k >= 0; k--) {
        step[k] = stride[k] * axis_stride;
        axis_stride *= in_size[k];
    }
    for (int32_t k = 0; k < 4; k++) {
        if (stride[k] < 1 || begin[k] < 0 || begin[k] + (out_size[k] - 1) * stride[k] >= in_size[k]) {
            return ARM_CMSIS_NN_ARG_ERROR;
        }
    }
    const int8_t *base = input + ((begin[0] * in_size[1] + begin[1]) * in_size[2] + begin[2]) * in_size[3] + begin[3];
    for (int32_t a = 0; a < out_size[0]; a++) {
        for (int32_t b = 0; b < out_size[1]; b++) {
            for (int32_t c = 0; c < out_size[2]; c++) {
                const int8_t *row = base + a * step[0] + b * step[1] + c * step[2];
                if (step[3] == 1) {
                    memcpy(output, row, (size_t)out_size[3]);
                } else {
                    for (int32_t d = 0; d < out_size[3]; d++) {
                        output[d] = row[d * step[3]];
                    }
                }
                output += out_size[3];
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
