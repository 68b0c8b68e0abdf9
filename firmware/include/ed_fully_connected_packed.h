/*
 * ed_fully_connected_packed.h - edge-deploy's fully connected layer for s8 (TFLite FULLY_CONNECTED,
 * per-tensor or per-channel int8) with ED_FC_ROWS (five) output rows per pass.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of arm_fully_connected_s8 /
 * arm_fully_connected_per_channel_s8 when the cost model says it is faster, with the weights and
 * the bias prepared at build time (edge_deploy.kernels.ed_fully_connected_s8). Bit-exact with
 * TFLite's reference kernel.
 *
 * The method. The weights of five output rows are interleaved word by word, so one LDM brings
 * the five rows' next four weights (five rows, not four: a group's two input words then serve
 * 20 MACs, and the 14 registers hold five sums, five weight words, the two input words and the
 * two pointers; the loop ends on a sentinel input word instead of an end pointer). Each word's even bytes are stored plus 128 (as uint8), so
 * its halfwords read as int16 are w0 + 128 + 256 w1 and w2 + 128 + 256 w3: the raw word is one
 * SMLAD operand, and one SXTB16 ROR 8 makes the other, (w1, w3). The input row is widened once
 * per row into the scratch, per group of four inputs two words: X = (x0, x2) and
 * Y = (x1 - 128 - 256 x0, x3 - 128 - 256 x2) as int16 pairs (in int16 range for every int8 input),
 * so one LDRD brings a group's inputs; per row and group SMLAD(X, word) + SMLAD(Y, SXTB16 ROR 8 of
 * word) = x0 w0 + x1 w1 + x2 w2 + x3 w3 + 128 (x0 + x2) - 128 (w1 + w3): one SXTB16 per word,
 * not two. The weight term is added to the bias at build time, the input term (128 x the sum of
 * the row's even positions) subtracted from every sum once per input row. A per-tensor layer's
 * requantization constants are made once per call. The input offset is folded into the bias (the
 * weight zero point must be 0):
 *
 *     acc[o] = bias[o] + sum_k (x_k + input_offset) * w[o][k] = folded_bias[o] + sum_k x_k * w[o][k]
 *
 * exact in int32 (the build checks it; the loop's partial sums are modulo 2^32). Then the fast
 * requantization of ed_nn_support.h.
 *
 * Packed weights (uint32 words of four bytes, build time): the depth padded with zero weights to
 * a multiple of 4, the outputs with zero rows to a multiple of 5; per block of five rows, per
 * group of four inputs, one word per row:  word (b * depth4 / 4 + g) * 5 + r holds
 * w[5b + r][4g .. 4g + 3], bytes 0 and 2 as w + 128 (uint8), bytes 1 and 3 as int8.
 * Folded bias: one int32 per output, bias + input_offset * sum_k w[o][k] + 128 * sum of the row's
 * odd-position weights (modulo 2^32), zero padded to a multiple of 5 (never NULL).
 */
#ifndef ED_FULLY_CONNECTED_PACKED_H
#define ED_FULLY_CONNECTED_PACKED_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Output rows per pass over the weights (edge_deploy.kernels.ed_fully_connected_s8.ROWS). */
#define ED_FC_ROWS 5

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

/** Scratch bytes: the input row widened to int16, its depth padded to a multiple of 4, and one
 *  more group (the sentinel that ends the loop); the portable path uses its first bytes for the
 *  int8 row, padded. Without it the DSP path falls
 *  back to the portable loop. */
int32_t ed_fully_connected_s8_get_buffer_size(const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_FULLY_CONNECTED_PACKED_H */
