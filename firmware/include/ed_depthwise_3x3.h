/*
 * ed_depthwise_3x3.h - edge-deploy's 3 x 3 depthwise convolution for s8 with channel multiplier 1
 * (TFLite DEPTHWISE_CONV_2D, per-channel int8): MobileNet's and DS-CNN's depthwise layers.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of ed_depthwise_conv_s8 or
 * arm_depthwise_conv_s8 when the cost model says it is faster, with the weights and the bias
 * prepared at build time (edge_deploy.kernels.ed_depthwise_conv_3x3_s8). Bit-exact with TFLite's
 * reference kernel.
 *
 * The method: one channel at a time along an output row, four outputs per pass, SMLAD on pairs
 * of taps. Channels are gathered four at a time: input row iy of channels c..c+3 becomes four
 * rows of int16 in the scratch ring, one per channel, one halfword per input column of the
 * padded row (the input zero point outside the input), stored as int16 pairs of neighbouring
 * columns; the ring has three slots per pair, input row iy in slot iy mod 3, and a row stays in
 * it while later output rows read it. Which kernel row a slot meets turns with the output row,
 * so each group keeps its weights in three rotations (not the rows copied). For a channel and a
 * kernel row with weights w0, w1, w2 the build stores the int16 pairs W01 = (w0, w1) and
 * W12 = (w1, w2); with the inputs as int16 pairs A = (i0, i1), B = (i2, i3), C = (i4, i5) four
 * stride-1 outputs are
 *
 *     o0 += SMLAD(A, W01) + SMLABT(B, W12)      o1 += SMLATB(A, W01) + SMLAD(B, W12)
 *     o2 += SMLAD(B, W01) + SMLABT(C, W12)      o3 += SMLATB(B, W01) + SMLAD(C, W12)
 *
 * (12 multiply-adds in 8 instructions, 3 input words), and with stride 2, pairs P0..P4 of
 * inputs i0..i9, ok = SMLAD(Pk, W01) + SMLABT(Pk+1, W12); a row's last 1 to 3 outputs take
 * passes of two.
 *
 * Rows of one pass (3 or 6 outputs at a vertical stride of 1 or 2, channels a multiple of 4:
 * MobileNet's 6 x 6 and 3 x 3 planes, where per-row costs dominated) skip the ring: each group
 * gathers every input row its outputs read into a slot of its own (the plane: pairs 16 bytes
 * apart, slots 16 x pairs apart; the padding's rows stay the zero point stored at the call's
 * start), keeps its weights in one rotation and runs every row of every channel in one call; a
 * row of three is a pass of four without its fourth output, a row of six one pass of six sums
 * (stride 1 or 2).
 *
 * The input offset is folded into the bias as in ed_depthwise.h (padding
 * reads the zero point). A channel on the fast requantization (a right shift of 1 to 23, a
 * folded bias within +-2^29) has its weights and bias doubled at run time, so its sum is twice
 * TFLite's accumulator and the requantization is SMMLAR (SMMLA in single rounding) of the sum
 * and the multiplier onto 2^(e-1) + offset * 2^e, ADD of the sum's sign (double rounding), ASR
 * by e and SSAT: 3 or 4 instructions per output, bit-exact (ed_dw3_requant in the source
 * derives it). Other channels keep their sums and ed_requant_out_s8.
 *
 * Packed weights (uint32 words, two int16 each, low halfword first, build time): per output
 * channel c, per kernel row ky: word 6c + 2ky = (w[ky][0], w[ky][1]), word 6c + 2ky + 1 =
 * (w[ky][1], w[ky][2]). Folded bias: one int32 per channel.
 */
#ifndef ED_DEPTHWISE_3X3_H
#define ED_DEPTHWISE_3X3_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** 3 x 3 depthwise convolution, channel multiplier 1, dilation 1, horizontal stride 1 or 2 (any
 *  vertical stride and padding), with build-time packed weights and folded bias (see above).
 *  ctx->buf must hold ed_depthwise_conv_3x3_s8_get_buffer_size() bytes, word aligned. */
arm_cmsis_nn_status ed_depthwise_conv_3x3_s8(const cmsis_nn_context *ctx,
                                             const cmsis_nn_dw_conv_params *dw_conv_params,
                                             const cmsis_nn_per_channel_quant_params *quant_params,
                                             const cmsis_nn_dims *input_dims,
                                             const int8_t *input_data,
                                             const cmsis_nn_dims *filter_dims,
                                             const uint32_t *packed_weights,
                                             const int32_t *folded_bias,
                                             const cmsis_nn_dims *output_dims,
                                             int8_t *output_data);

/** Scratch bytes: 4 channels x slots x (stride_w * 4 * ceil(out_w / 4) + 2) int16 columns (every
 *  column the last pass of four outputs reads), 3 slots (the ring) or, for a plane,
 *  (out_h - 1) * stride_h + 3 (every input row; in the kernel's orientation). */
int32_t ed_depthwise_conv_3x3_s8_get_buffer_size(const cmsis_nn_dw_conv_params *dw_conv_params,
                                                 const cmsis_nn_dims *input_dims,
                                                 const cmsis_nn_dims *filter_dims,
                                                 const cmsis_nn_dims *output_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_DEPTHWISE_3X3_H */
