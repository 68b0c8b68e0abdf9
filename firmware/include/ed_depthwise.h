/*
 * ed_depthwise.h - edge-deploy's depthwise convolution for s8 (TFLite DEPTHWISE_CONV_2D, per-channel
 * int8), any kernel size, stride, padding, dilation and channel multiplier.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of arm_depthwise_conv_s8 when the cost
 * model says it is faster, with the weights and the bias prepared at build time
 * (edge_deploy.kernels.ed_depthwise_conv_s8). Bit-exact with TFLite's reference kernel.
 *
 * The method. Output channels are taken four at a time ("a group"; the last group is padded
 * with zero weights). For each group and each output row the kernel gathers the kh input rows
 * the row reads into a ring of kh rows in the scratch buffer, one word per input column: the
 * group's four input values (the input channel of output channel o is o / ch_mult), and the
 * input zero point where the window reaches into the padding. A row stays in the ring while
 * later output rows read it, so with stride 1 every input row is gathered once per group. The
 * output pixels of the row then run with no bounds check: per tap one word of four inputs,
 * unpacked with SXTB16 into (c0, c2) and (c1, c3), against two words of int16 weights, SMLABB /
 * SMLATT. Padding taps read the zero point, so the input offset can be folded into the bias:
 *
 *     acc[c] = bias[c] + sum_t (x_t[c] + input_offset) * w_t[c]
 *            = folded_bias[c] + sum_t x_t[c] * w_t[c],   folded_bias[c] = bias[c] + input_offset * sum_t w_t[c]
 *
 * exact in int32 (the build checks that the folded bias and every accumulator fit). Then the
 * fast requantization of ed_nn_support.h for the group's four channels, one packed word store.
 *
 * Packed weights (uint32 words, two int16 each, build time): per group g, per tap in
 * kx-major order (t = kx * kh + ky), two words:
 *     word 2 * (g * kh * kw + t)     = (w_t[4g],     w_t[4g + 2])   low halfword first
 *     word 2 * (g * kh * kw + t) + 1 = (w_t[4g + 1], w_t[4g + 3])
 * (the order SXTB16 unpacks a word of four int8 inputs), channels past the last one zero.
 * Folded bias: one int32 per output channel (never NULL: it carries the input offset).
 */
#ifndef ED_DEPTHWISE_H
#define ED_DEPTHWISE_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tallest window the kernel takes (the ring's row table is on the stack). */
#define ED_DW_MAX_KH 16

/** Depthwise convolution with build-time packed weights and folded bias (see above). ctx->buf
 *  must hold ed_depthwise_conv_s8_get_buffer_size() bytes, word aligned. */
arm_cmsis_nn_status ed_depthwise_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_dw_conv_params *dw_conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input_data,
                                         const cmsis_nn_dims *filter_dims,
                                         const uint32_t *packed_weights,
                                         const int32_t *folded_bias,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output_data);

/** Scratch bytes of ed_depthwise_conv_s8: the ring of kh gathered rows, one word per input
 *  column the output row reads ((out_w - 1) * stride_w + (kw - 1) * dilation_w + 1 columns). */
int32_t ed_depthwise_conv_s8_get_buffer_size(const cmsis_nn_dw_conv_params *dw_conv_params,
                                             const cmsis_nn_dims *input_dims,
                                             const cmsis_nn_dims *filter_dims,
                                             const cmsis_nn_dims *output_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_DEPTHWISE_H */
