/*
 * arm_fully_connected_s8_get_buffer_size.c - scratch needed by edge-deploy's fully connected
 * kernels: none (the inputs are unpacked in registers). Upstream CMSIS-NN may report more on
 * other cores; generated code then fills the buffer with arm_vector_sum_s8 as upstream asks.
 */
#include "ed_nn_support.h"

int32_t arm_fully_connected_s8_get_buffer_size(const cmsis_nn_dims *filter_dims)
{
    (void)filter_dims;
    return 0;
}
