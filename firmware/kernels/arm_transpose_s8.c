/*
 * arm_transpose_s8.c - CMSIS-NN's transpose API (v7.0.0), written for edge-deploy from its
 * public description: output axis k is input axis permutations[k]. The output is written in
 * order; the innermost output axis is a memcpy when it is also the input's innermost.
 */
#include "ed_nn_support.h"

arm_cmsis_nn_status arm_transpose_s8(const int8_t *input_data,
                                     int8_t *const output_data,
                                     const cmsis_nn_dims *const input_dims,
                                     const cmsis_nn_dims *const output_dims,
                                     const cmsis_nn_transpose_params *const transpose_params)
{
    const int32_t rank = transpose_params->num_dims;
    if (rank < 1 || rank > 4) {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t in_size[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
    const int32_t out_size[4] = {output_dims->n, output_dims->h, output_dims->w, output_dims->c};
    int32_t in_stride[4];
    in_stride[rank - 1] = 1;
    for (int32_t k = rank - 2; k >= 0; k--) {
        in_stride[k] = in_stride[k + 1] * in_size[k + 1];
    }
    /* The output's axes padded in front to four: size and input step of each. */
    int32_t size[4] = {1, 1, 1, 1};
    int32_t step[4] = {0, 0, 0, 0};
    for (int32_t k = 0; k < rank; k++) {
        const uint32_t axis = transpose_params->permutations[k];
        if (axis >= (uint32_t)rank || out_size[k] != in_size[axis]) {
            return ARM_CMSIS_NN_ARG_ERROR;
        }
        size[4 - rank + k] = out_size[k];
        step[4 - rank + k] = in_stride[axis];
    }
    int8_t *out = output_data;
    for (int32_t a = 0; a < size[0]; a++) {
        for (int32_t b = 0; b < size[1]; b++) {
            for (int32_t c = 0; c < size[2]; c++) {
                const int8_t *row = input_data + a * step[0] + b * step[1] + c * step[2];
                if (step[3] == 1) {
                    memcpy(out, row, (size_t)size[3]);
                } else {
                    for (int32_t d = 0; d < size[3]; d++) {
                        out[d] = row[d * step[3]];
                    }
                }
                out += size[3];
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
