/*
 * ed_pool.h - edge-deploy's own kernels that reduce a window or a row: average pooling and
 * softmax.
 */
#ifndef ED_POOL_H
#define ED_POOL_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** AVERAGE_POOL_2D, int8, with arm_avgpool_s8's arguments and arithmetic (the taps inside the
 *  input counted, rounded half away from zero, clamped to the activation range); ctx is
 *  unused (ed_avgpool_s8_get_buffer_size is 0). The DSP path sums sixteen channels per tap in
 *  registers. */
arm_cmsis_nn_status ed_avgpool_s8(const cmsis_nn_context *ctx,
                                  const cmsis_nn_pool_params *pool_params,
                                  const cmsis_nn_dims *input_dims,
                                  const int8_t *input_data,
                                  const cmsis_nn_dims *filter_dims,
                                  const cmsis_nn_dims *output_dims,
                                  int8_t *output_data);

/** Scratch bytes of ed_avgpool_s8: none. */
int32_t ed_avgpool_s8_get_buffer_size(int32_t output_width, int32_t channels);

/** SOFTMAX over num_rows rows of row_size int8 values; int8 output with scale 1/256 and zero
 *  point -128, TFLite's arithmetic. exp_table[d] is the exponential TFLite evaluates for the
 *  difference -d to the row maximum (d = 0..255; Q0.31, 0 where the difference is below
 *  diff_min and left out), computed at build time. */
void ed_softmax_s8(const int8_t *input, int32_t num_rows, int32_t row_size, const int32_t *exp_table,
                   int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* ED_POOL_H */
