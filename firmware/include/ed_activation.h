/*
 * ed_activation.h - edge-deploy's kernels for pruned activations (Integral Pruning): after a
 * thresholded ReLU most inputs of the next layer equal their zero point (real 0) and contribute
 * nothing, so a kernel can skip them.
 */
#ifndef ED_ACTIVATION_H
#define ED_ACTIVATION_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Fully connected (TFLite FULLY_CONNECTED) that skips input elements equal to the input zero
 *  point (-fc_params->input_offset). Arguments as arm_fully_connected_s8 with dense (units, depth)
 *  weights; quant holds one multiplier and shift per output when quant_step is 1, a single one
 *  when 0. Bit-exact with arm_fully_connected_s8 / _per_channel_s8. Each input row is first
 *  compacted into (index, input + offset) pairs in ctx->buf
 *  (ed_fully_connected_skip_zero_s8_get_buffer_size bytes); then four outputs at a time
 *  multiply-accumulate over the kept inputs only. */
arm_cmsis_nn_status ed_fully_connected_skip_zero_s8(const cmsis_nn_context *ctx,
                                                    const cmsis_nn_fc_params *fc_params,
                                                    const cmsis_nn_per_channel_quant_params *quant,
                                                    int32_t quant_step,
                                                    const cmsis_nn_dims *input_dims,
                                                    const int8_t *input_data,
                                                    const cmsis_nn_dims *filter_dims,
                                                    const int8_t *filter_data,
                                                    const cmsis_nn_dims *bias_dims,
                                                    const int32_t *bias_data,
                                                    const cmsis_nn_dims *output_dims,
                                                    int8_t *output_data);

/** Scratch bytes of ed_fully_connected_skip_zero_s8: 4 per input feature (filter_dims->n). */
int32_t ed_fully_connected_skip_zero_s8_get_buffer_size(const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_ACTIVATION_H */
