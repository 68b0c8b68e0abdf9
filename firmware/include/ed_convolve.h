/*
 * ed_convolve.h - edge-deploy's convolution for s8 (TFLite CONV_2D, per-channel int8) as a GEMM
 * with register blocking sized for the Cortex-M4: any window, stride, padding and dilation.
 *
 * Not part of the CMSIS-NN API: the build calls it instead of arm_convolve_s8 when the cost model
 * says it is faster, with the weights and the bias prepared at build time
 * (edge_deploy.kernels.ed_convolve_s8). Bit-exact with TFLite's reference kernel.
 *
 * The method. Output positions are taken four at a time: the patch of each (kh x kw x cin int8
 * values, the input zero point where the window reaches into the padding) is widened to int16
 * into its slot of the column buffer, in the order SXTB16 unpacks a word of four weights
 * ((x0, x2), (x1, x3) per group of four patch elements; per group the four slots' words side by
 * side, 32 bytes). Output channels are taken two at a time, as a pair packed into one int16 per
 * patch element, h = w[first] + 256 w[second] (an int16 unless the second weight is -128 and
 * the first negative: the build checks). Per group of four patch elements the pair has two words, (h0, h2) and (h1, h3);
 * SMLAD of a word with a position's column word adds first + 256 second products to the position's
 * packed sum, and SMLAD of its SXTB16 (the even bytes: the first channel's weights alone) adds the
 * first channel's products to its own sum. So per group: two weight loads, two SXTB16, sixteen
 * SMLAD for 2 x 4 outputs in eight registers (28 instructions per 32 MACs in Thumb-2; each weight
 * word is read once per four positions, which halves the weight traffic through the flash's data
 * cache against two positions x three channels). Both sums start from the first channel's bias;
 * the second channel's products are then (packed - first) / 256, exact modulo 2^32 while they stay
 * within +-2^23, i.e. while 128 x the sum of |w| of every channel is below 2^23 (for any patch up
 * to 516 elements). A layer where that may fail is flagged chunked: it recovers them every 512
 * patch elements (the packed sums start again from the first channel's), in C around the same
 * group loop. The positions past the last of a layer (fewer than
 * four left) repeat the last one; an odd last channel pairs with a zero row. Padding taps read the
 * zero point, so the input offset is folded into the bias:
 *
 *     acc[o] = bias[o] + sum_k (x_k + input_offset) * w_k[o] = folded_bias[o] + sum_k x_k * w_k[o]
 *
 * exact in int32 with a margin, |acc| <= 2^31 - 2^27 (the build checks the folded bias and every
 * accumulator: the requantization adds a rounding word to them). Then a fast requantization prepared
 * once per call per output channel (ed_conv_q_t in ed_convolve_s8.c: one multiply-high, a
 * rounding word with the output offset in it, a shift; the clamp bytewise).
 *
 * Packed weights (uint32 words of two int16, build time): the patch length kh * kw * cin padded
 * with zero weights to k4, a multiple of 4; the output channels padded with a zero row to a
 * multiple of 2; then per block of two channels b, per group of four patch elements g, two words:
 *     word (b * k4 / 4 + g) * 2 + j  =  (h[4g + j], h[4g + j + 2]),  h[i] = w[2b][i] + 256 w[2b + 1][i]
 * (the low halfword first, each int16 in two's complement).
 * Folded bias: one int32 per output channel, zero padded to the same multiple of 2 (never NULL:
 * it carries the input offset), then one int32: 1 for a layer flagged chunked, else 0.
 */
#ifndef ED_CONVOLVE_H
#define ED_CONVOLVE_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Convolution with build-time packed weights and folded bias (see above). ctx->buf must hold
 *  ed_convolve_s8_get_buffer_size() bytes, word aligned. */
arm_cmsis_nn_status ed_convolve_s8(const cmsis_nn_context *ctx,
                                   const cmsis_nn_conv_params *conv_params,
                                   const cmsis_nn_per_channel_quant_params *quant_params,
                                   const cmsis_nn_dims *input_dims,
                                   const int8_t *input_data,
                                   const cmsis_nn_dims *filter_dims,
                                   const uint32_t *packed_weights,
                                   const int32_t *folded_bias,
                                   const cmsis_nn_dims *output_dims,
                                   int8_t *output_data);

/** An ADD fused after the convolution (ed_convolve_add_s8): ed_elementwise_add_linear_s8's form
 *  (ed_elementwise.h) with the convolution's output as its first input (alpha) and `other`, a
 *  tensor of the output's shape, as its second (beta), for double rounding and for single
 *  rounding (*_single), then clamped to the ADD's [act_min, act_max]. */
typedef struct
{
    const int8_t *other;
    int32_t alpha, beta, gamma;
    int32_t alpha_single, beta_single, gamma_single;
    int32_t act_min, act_max;
} ed_conv_add_t;

/** The fused ADD over size bytes of a convolution's staged outputs: staged + add->other[at..]
 *  into output[at..], which may be add->other (ed_elementwise_add_linear_s8 reads each word of
 *  both inputs before it writes the output's word at the same place). Defined with that kernel,
 *  so a build links its loop once whichever kernels call it. */
void ed_conv_add_run(const ed_conv_add_t *add, const int8_t *staged, int32_t at, int8_t *output, int32_t size);

/** ed_convolve_s8 with an ADD fused after it: the convolution's outputs, sixteen positions at a
 *  time, staged in the scratch and added to `add->other`; only the sum is stored, and output_data may
 *  be add->other (each byte of it is read before the byte of the sum at its place is written).
 *  ctx->buf must hold ed_convolve_add_s8_get_buffer_size() bytes, word aligned. */
arm_cmsis_nn_status ed_convolve_add_s8(const cmsis_nn_context *ctx,
                                       const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims,
                                       const int8_t *input_data,
                                       const cmsis_nn_dims *filter_dims,
                                       const uint32_t *packed_weights,
                                       const int32_t *folded_bias,
                                       const cmsis_nn_dims *output_dims,
                                       const ed_conv_add_t *add,
                                       int8_t *output_data);

/** Scratch bytes of ed_convolve_add_s8: ed_convolve_s8's and sixteen positions' outputs
 *  (16 * filter_dims->n). */
int32_t ed_convolve_add_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims);

/** Scratch bytes of ed_convolve_s8: four widened columns (8 * k4), the int8 patch staging (k4)
 *  and the requantization constants and bias (16 bytes per output channel, filter_dims->n
 *  rounded up to 2). */
int32_t ed_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_CONVOLVE_H */
