/*
 * ed_elementwise.h - edge-deploy's element-wise kernels: a 256-entry table for any int8 op of one
 * input (RELU, LOGISTIC, TANH, HARD_SWISH, a requantizing QUANTIZE ...), ADD, SUB and MUL with
 * one requantization per element, PRELU, the float32 boundary of a model converted with a float
 * interface (QUANTIZE float -> int8, DEQUANTIZE int8 -> float), and a strided window copy (SLICE
 * and the outputs of SPLIT and UNPACK).
 */
#ifndef ED_ELEMENTWISE_H
#define ED_ELEMENTWISE_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** output[i] = table[(uint8_t)input[i]] for size bytes: any 8-bit op whose output element
 *  depends only on the same input element, its 256 results computed at build time by the
 *  op's reference. input and output may be the same buffer. */
arm_cmsis_nn_status ed_lut_s8(const int8_t *input, int8_t *output, int32_t size, const int8_t *table);

/** QUANTIZE float32 -> 8 bit (TFLite's AffineQuantize): round(input[i] / scale), halves away
 *  from zero, plus zero_point, clamped to [q_min, q_max] (-128..127 for int8, 0..255 for
 *  uint8), stored as a byte. */
arm_cmsis_nn_status ed_quantize_f32_s8(const float *input, int8_t *output, int32_t size, float scale,
                                       int32_t zero_point, int32_t q_min, int32_t q_max);

/** DEQUANTIZE 8 bit -> float32: scale * (q - zero_point), one float32 multiply (exactly what
 *  TFLite's double product rounded to float gives). is_unsigned reads the bytes as uint8. */
arm_cmsis_nn_status ed_dequantize_s8_f32(const int8_t *input, float *output, int32_t size, float scale,
                                         int32_t zero_point, int32_t is_unsigned);

/** A strided window of an s8 tensor (SLICE, STRIDED_SLICE, a SPLIT or UNPACK output): for each
 *  index i of output_dims, output[i] = input[begin + i * stride] per axis of input_dims (NHWC,
 *  four axes; begin and stride have four entries, stride >= 1). The output is dense. */
arm_cmsis_nn_status ed_strided_slice_s8(const int8_t *input,
                                        const cmsis_nn_dims *input_dims,
                                        const int32_t *begin,
                                        const int32_t *stride,
                                        const cmsis_nn_dims *output_dims,
                                        int8_t *output);

/** ADD or SUB of two int8 vectors of size elements (TFLite's int8 arithmetic): output =
 *  requantize((tables[a] + tables[256 + b]) / 2) + out_offset, clamped to [act_min, act_max].
 *  tables holds each input's rescale ((x + offset) << 20 times its multiplier), doubled, for
 *  every byte (index: the byte read unsigned), computed at build time with double rounding;
 *  where single rounding gives input k other values, its single-rounding table lies
 *  single_rounding_k entries after its double-rounding one (else 0), which a build with
 *  CMSIS_NN_USE_SINGLE_ROUNDING reads. output may be input1. */
arm_cmsis_nn_status ed_elementwise_add_s8(const int8_t *input1,
                                          const int8_t *input2,
                                          const int32_t *tables,
                                          int32_t single_rounding_1,
                                          int32_t single_rounding_2,
                                          int32_t out_offset,
                                          int32_t out_mult,
                                          int32_t out_shift,
                                          int32_t act_min,
                                          int32_t act_max,
                                          int8_t *output,
                                          int32_t size);

/** The shift of ed_elementwise_add_linear_s8's form. */
#define ED_ADD_LINEAR_SHIFT 20

/** ADD or SUB of two int8 vectors of size elements where TFLite's int8 arithmetic equals, on
 *  every pair of input bytes (a, b), the linear form
 *  SSAT8((gamma + floor(alpha * a / 2^8) + floor(beta * b / 2^8)) >> ED_ADD_LINEAR_SHIFT),
 *  then clamped to [act_min, act_max]; computed at build time for double rounding (alpha, beta,
 *  gamma) and for single rounding (*_single, which a build with CMSIS_NN_USE_SINGLE_ROUNDING
 *  reads). output may be input1. */
arm_cmsis_nn_status ed_elementwise_add_linear_s8(const int8_t *input1,
                                                 const int8_t *input2,
                                                 int32_t alpha,
                                                 int32_t beta,
                                                 int32_t gamma,
                                                 int32_t alpha_single,
                                                 int32_t beta_single,
                                                 int32_t gamma_single,
                                                 int32_t act_min,
                                                 int32_t act_max,
                                                 int8_t *output,
                                                 int32_t size);

/** MUL of two int8 vectors of size elements (TFLite's int8 arithmetic): (a + input1_offset) *
 *  (b + input2_offset) requantized with (out_mult, out_shift), plus out_offset, clamped to
 *  [act_min, act_max]. output may be input1. */
arm_cmsis_nn_status ed_elementwise_mul_s8(const int8_t *input1,
                                          const int8_t *input2,
                                          int32_t input1_offset,
                                          int32_t input2_offset,
                                          int32_t out_offset,
                                          int32_t out_mult,
                                          int32_t out_shift,
                                          int32_t act_min,
                                          int32_t act_max,
                                          int8_t *output,
                                          int32_t size);

/** PRELU on size elements, int8 (TFLite): v = input + input_offset; where v >= 0 the output is
 *  v requantized with (pos_mult, pos_shift), else v * (alpha + alpha_offset) requantized with
 *  (neg_mult, neg_shift); plus output_offset, saturated. alpha has size elements too (the layer
 *  calls this once per block of the broadcast). */
arm_cmsis_nn_status ed_prelu_s8(const int8_t *input,
                                const int8_t *alpha,
                                int8_t *output,
                                int32_t input_offset,
                                int32_t alpha_offset,
                                int32_t output_offset,
                                int32_t pos_mult,
                                int32_t pos_shift,
                                int32_t neg_mult,
                                int32_t neg_shift,
                                int32_t size);

/** RESIZE_NEAREST_NEIGHBOR of an NHWC s8 image: output pixel (y, x) of each batch is input pixel
 *  (rows[y], cols[x]); rows has output_dims->h entries, cols output_dims->w (the indices
 *  TFLite's reference computes, tabled at build time). */
arm_cmsis_nn_status ed_resize_nearest_s8(const int8_t *input,
                                         const cmsis_nn_dims *input_dims,
                                         const int16_t *rows,
                                         const int16_t *cols,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* ED_ELEMENTWISE_H */
