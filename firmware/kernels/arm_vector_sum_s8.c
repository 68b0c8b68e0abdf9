/*
 * arm_vector_sum_s8.c - per-row weight sums times the input offset, plus bias: the kernel-sum
 * buffer upstream CMSIS-NN's fully connected layer can ask for. Written for edge-deploy from
 * the public API description; no CMSIS-NN code.
 */
#include "ed_nn_support.h"

arm_cmsis_nn_status arm_vector_sum_s8(int32_t *vector_sum_buf,
                                      const int32_t vector_cols,
                                      const int32_t vector_rows,
                                      const int8_t *vector_data,
                                      const int32_t lhs_offset,
                                      const int32_t *bias_data)
{
    for (int32_t row = 0; row < vector_rows; row++)
    {
        int32_t sum = 0;
        for (int32_t col = 0; col < vector_cols; col++)
        {
            sum += vector_data[row * vector_cols + col];
        }
        vector_sum_buf[row] = sum * lhs_offset + (bias_data ? bias_data[row] : 0);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
