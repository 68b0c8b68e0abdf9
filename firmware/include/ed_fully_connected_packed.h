/*
 * ed_fully_connected_packed.h - edge-deploy's fully connected layer for s8 (TFLite FULLY_CONNECTED,
 * per-tensor or per-channel int8) with four output rows per pass.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of arm_fully_connected_s8 /
 * arm_fully_connected_per_channel_s8 when the cost model says it is faster, with the weights and
 * the bias prepared at build time (edge_deploy.kernels.ed_fully_connected_s8). Bit-exact with
 * TFLite's reference kernel.
 *
 * The method. The weights of four output rows are interleaved word by word, so one LDM brings
 * the four rows' next four weights; the input row is widened to int16 pairs once per row (in the
 * scratch, as SXTB16 / SXTB16 ROR 8 of each word make them), so one LDRD brings a group's inputs
 * for eight SMLAD. A per-tensor layer's requantization constants are made once per call. The input offset is folded into the bias (the weight zero point must be 0):
 *
 *     acc[o] = bias[o] + sum_k (x_k + input_offset) * w[o][k] = folded_bias[o] + sum_k x_k * w[o][k]
 *
 * exact in int32 (the build checks it). Then the fast requantization of ed_nn_support.h.
 *
 * Packed weights (uint32 words of four int8, build time): the depth padded with zero weights to
 * a multiple of 4, the outputs with zero rows to a multiple of 4; per block of four rows, per
 * group of four inputs, one word per row:  word (b * depth4 / 4 + g) * 4 + r = w[4b + r][4g .. 4g + 3].
 * Folded bias: one int32 per output, zero padded to a multiple of 4 (never NULL).
 */
#ifndef ED_FULLY_CONNECTED_PACKED_H
#define ED_FULLY_CONNECTED_PACKED_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Fully connected with packed weights and folded bias (see above). quant_params->multiplier and
 *  ->shift advance by quant_step per output (0: one for the layer). ctx->buf must hold
 *  ed_fully_connected_s8_get_buffer_size() bytes. */
arm_cmsis_nn_status ed_fully_connected_s8(const cmsis_nn_context *ctx,
                                          const cmsis_nn_fc_params *fc_params,
                                          const cmsis_nn_per_channel_quant_params *quant_params,
                                          int32_t quant_step,
                                          const cmsis_nn_dims *input_dims,
                                          const int8_t *input_data,
                                          const cmsis_nn_dims *filter_dims,
                                          const uint32_t *packed_weights,
                                          const int32_t *folded_bias,
                                          const cmsis_nn_dims *output_dims,
                                          int8_t *output_data);

/** Scratch bytes: the input row widened to int16, its depth padded to a multiple of 4 (the
 *  portable path uses its first bytes for the int8 row, padded). Without it the DSP path falls
 *  back to the portable loop. */
int32_t ed_fully_connected_s8_get_buffer_size(const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_FULLY_CONNECTED_PACKED_H */
