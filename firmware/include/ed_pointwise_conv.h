/*
 * ed_pointwise_conv.h - edge-deploy's pointwise convolution for s8 (TFLite CONV_2D with a 1 x 1
 * window, stride 1, no padding, per-channel int8) as a GEMM over the pixels, made for the low
 * input depths (8, 16 channels) where the cost per output, not the dot product, dominates.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of arm_convolve_s8 / ed_convolve_s8
 * when the cost model says it is faster, with the bias prepared at build time
 * (edge_deploy.kernels.ed_pointwise_conv_s8). Bit-exact with TFLite's reference kernel.
 *
 * The method. With a 1 x 1 window and stride 1 every pixel of the input (cin int8, NHWC) is
 * one patch and the output is the (pixels x cin) by (cin x cout) product, taken in blocks of
 * pixels (as many as 2 KB of int32 sums hold, an even count) in two passes:
 *   1. per pair of pixels of the block, both pixels widened to int16 into a column (in the order
 *      SXTB16 unpacks a word of four weights: (x0, x2), (x1, x3) per group of four input
 *      channels), then every block of three output channels: six sums from the block's folded
 *      biases, per group one weight word per channel, two SXTB16 each, twelve SMLAD (27 model
 *      cycles per 24 MACs), the six sums stored with one STM; on the M4 one Thumb-2 call takes
 *      all the block's pairs (the loop of two groups entered where the group count needs);
 *   2. per output channel, its requantization prepared once per call (a multiply-high, a
 *      rounding word, a shift: ed_pw_q_t in ed_pointwise_conv_s8.c) and applied to the channel's
 *      sums over the whole block with nothing else to load (Thumb-2 with SSAT, two pairs of
 *      pixels per turn, when the activation range is all of int8), so the cost per output that
 *      dominates at low input depth (8, 16 channels) is a few instructions; a channel off that
 *      fast path takes TFLite's arithmetic, channel by channel, not the whole layer.
 * The input offset is folded into the bias:
 *
 *     acc[o] = bias[o] + sum_c (x_c + input_offset) * w_c[o] = folded_bias[o] + sum_c x_c * w_c[o]
 *
 * exact in int32 with a margin, |acc| <= 2^31 - 2^27 (the build checks it: the fast
 * requantization adds a rounding word to the accumulator).
 *
 * The packed stream (uint32 words, build time): the output channels padded with zero rows to a
 * multiple of 3, cin padded with zero weights to a multiple of 4 (groups = cin / 4 rounded up);
 * per block b of three channels, the three folded biases (int32), then per group g one word per
 * channel of the block (its four int8 weights, the first in the low byte):
 *     word b * (3 + 3 * groups) + o                 =  folded_bias[3b + o]
 *     word b * (3 + 3 * groups) + 3 + 3 * g + o     =  w[3b + o][4g .. 4g + 3]
 */
#ifndef ED_POINTWISE_CONV_H
#define ED_POINTWISE_CONV_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Pointwise convolution (see above): input_dims and output_dims have the same n, h and w.
 *  ctx->buf must hold ed_pointwise_conv_s8_get_buffer_size() bytes, word aligned. */
arm_cmsis_nn_status ed_pointwise_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_conv_params *conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input_data,
                                         const cmsis_nn_dims *filter_dims,
                                         const uint32_t *packed,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output_data);

/** Scratch bytes of ed_pointwise_conv_s8: the column of a pair of pixels (16 bytes per group of
 *  four input channels), the sums of a block of pixels (4 bytes per pixel and output channel, the
 *  channels rounded up to 3) and the requantization constants (12 bytes per output channel). */
int32_t ed_pointwise_conv_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_POINTWISE_CONV_H */
