/*
 * arm_nnfunctions.h - the CMSIS-NN s8 functions edge-deploy's generated code calls.
 *
 * Signatures follow Arm's public CMSIS-NN API (v6.0.0; arm_fully_connected_per_channel_s8
 * and arm_pad_s8 as added in later releases), so a generated project links either the
 * kernels in firmware/kernels/ (default) or upstream CMSIS-NN. Arithmetic is TFLite's int8
 * scheme: requantization with double rounding, or single rounding when the build defines
 * CMSIS_NN_USE_SINGLE_ROUNDING, as upstream does.
 *
 * Layouts: activations NHWC, conv filters [C_OUT, H, W, C_IN], depthwise filters
 * [1, H, W, C_OUT], fully connected filters [C_IN, C_OUT] dims with data row-major per
 * output ([C_OUT][C_IN]). Offsets in the parameter structs are negated zero points.
 */
#ifndef ARM_NNFUNCTIONS_H
#define ARM_NNFUNCTIONS_H

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- convolution --------------------------------------------------------------------- */

/** s8 convolution with per-channel requantization. ctx->buf must hold
 *  arm_convolve_s8_get_buffer_size() bytes (may be NULL when that is 0). */
arm_cmsis_nn_status arm_convolve_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_conv_params *conv_params,
                                    const cmsis_nn_per_channel_quant_params *quant_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *input_data,
                                    const cmsis_nn_dims *filter_dims,
                                    const int8_t *filter_data,
                                    const cmsis_nn_dims *bias_dims,
                                    const int32_t *bias_data,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *output_data);

/** Scratch bytes arm_convolve_s8() needs for these input and filter shapes. */
int32_t arm_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims);

/** s8 depthwise convolution, any channel multiplier, no scratch needed. */
arm_cmsis_nn_status arm_depthwise_conv_s8(const cmsis_nn_context *ctx,
                                          const cmsis_nn_dw_conv_params *dw_conv_params,
                                          const cmsis_nn_per_channel_quant_params *quant_params,
                                          const cmsis_nn_dims *input_dims,
                                          const int8_t *input_data,
                                          const cmsis_nn_dims *filter_dims,
                                          const int8_t *filter_data,
                                          const cmsis_nn_dims *bias_dims,
                                          const int32_t *bias_data,
                                          const cmsis_nn_dims *output_dims,
                                          int8_t *output_data);

/* ---- fully connected ----------------------------------------------------------------- */

/** s8 fully connected layer, one requantization for the whole output (per tensor).
 *  filter_dims->n is the accumulation depth, filter_dims->c the output depth. */
arm_cmsis_nn_status arm_fully_connected_s8(const cmsis_nn_context *ctx,
                                           const cmsis_nn_fc_params *fc_params,
                                           const cmsis_nn_per_tensor_quant_params *quant_params,
                                           const cmsis_nn_dims *input_dims,
                                           const int8_t *input_data,
                                           const cmsis_nn_dims *filter_dims,
                                           const int8_t *filter_data,
                                           const cmsis_nn_dims *bias_dims,
                                           const int32_t *bias_data,
                                           const cmsis_nn_dims *output_dims,
                                           int8_t *output_data);

/** s8 fully connected layer with one requantization per output channel. */
arm_cmsis_nn_status arm_fully_connected_per_channel_s8(const cmsis_nn_context *ctx,
                                                       const cmsis_nn_fc_params *fc_params,
                                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                                       const cmsis_nn_dims *input_dims,
                                                       const int8_t *input_data,
                                                       const cmsis_nn_dims *filter_dims,
                                                       const int8_t *filter_data,
                                                       const cmsis_nn_dims *bias_dims,
                                                       const int32_t *bias_data,
                                                       const cmsis_nn_dims *output_dims,
                                                       int8_t *output_data);

/** Scratch bytes arm_fully_connected_s8() needs; when > 0 the caller fills the buffer with
 *  arm_vector_sum_s8() first (upstream's Helium path does; these kernels need none). */
int32_t arm_fully_connected_s8_get_buffer_size(const cmsis_nn_dims *filter_dims);

/** Per-row sums of vector_data, times lhs_offset, plus bias_data when not NULL. */
arm_cmsis_nn_status arm_vector_sum_s8(int32_t *vector_sum_buf,
                                      const int32_t vector_cols,
                                      const int32_t vector_rows,
                                      const int8_t *vector_data,
                                      const int32_t lhs_offset,
                                      const int32_t *bias_data);

/* ---- pooling ------------------------------------------------------------------------- */

/** s8 average pooling; out-of-bounds (padding) elements are not counted. */
arm_cmsis_nn_status arm_avgpool_s8(const cmsis_nn_context *ctx,
                                   const cmsis_nn_pool_params *pool_params,
                                   const cmsis_nn_dims *input_dims,
                                   const int8_t *input_data,
                                   const cmsis_nn_dims *filter_dims,
                                   const cmsis_nn_dims *output_dims,
                                   int8_t *output_data);

/** Scratch bytes arm_avgpool_s8() needs for this output width and channel count. */
int32_t arm_avgpool_s8_get_buffer_size(const int dim_dst_width, const int ch_src);

/** s8 max pooling. Input and output must not overlap. */
arm_cmsis_nn_status arm_max_pool_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_pool_params *pool_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *input_data,
                                    const cmsis_nn_dims *filter_dims,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *output_data);

/* ---- elementwise, softmax, pad ------------------------------------------------------- */

/** s8 elementwise add of two equally shaped vectors (TFLite ADD arithmetic). */
arm_cmsis_nn_status arm_elementwise_add_s8(const int8_t *input_1_vect,
                                           const int8_t *input_2_vect,
                                           const int32_t input_1_offset,
                                           const int32_t input_1_mult,
                                           const int32_t input_1_shift,
                                           const int32_t input_2_offset,
                                           const int32_t input_2_mult,
                                           const int32_t input_2_shift,
                                           const int32_t left_shift,
                                           int8_t *output,
                                           const int32_t out_offset,
                                           const int32_t out_mult,
                                           const int32_t out_shift,
                                           const int32_t out_activation_min,
                                           const int32_t out_activation_max,
                                           const int32_t block_size);

/** s8 elementwise multiply of two equally shaped vectors (TFLite MUL arithmetic):
 *  (in1 + input_1_offset) * (in2 + input_2_offset), requantized by (out_mult, out_shift), plus
 *  out_offset, clamped to the activation range. */
arm_cmsis_nn_status arm_elementwise_mul_s8(const int8_t *input_1_vect,
                                           const int8_t *input_2_vect,
                                           const int32_t input_1_offset,
                                           const int32_t input_2_offset,
                                           int8_t *output,
                                           const int32_t out_offset,
                                           const int32_t out_mult,
                                           const int32_t out_shift,
                                           const int32_t out_activation_min,
                                           const int32_t out_activation_max,
                                           const int32_t block_size);

/** s8 softmax over rows (TFLite int8 softmax, output zero point -128, scale 1/256).
 *  mult/shift rescale the input difference to the max; diff_min is the smallest
 *  difference whose exponential is not rounded to zero. */
void arm_softmax_s8(const int8_t *input,
                    const int32_t num_rows,
                    const int32_t row_size,
                    const int32_t mult,
                    const int32_t shift,
                    const int32_t diff_min,
                    int8_t *output);

/** Pads an NHWC s8 tensor with pad_value before and after each dimension. */
arm_cmsis_nn_status arm_pad_s8(const int8_t *input,
                               int8_t *output,
                               const int8_t pad_value,
                               const cmsis_nn_dims *input_size,
                               const cmsis_nn_dims *pre_pad,
                               const cmsis_nn_dims *post_pad);

/* ---- data movement ---- */

/** Transposes an s8 tensor of transpose_params->num_dims (1..4) axes: output axis k is input
 *  axis permutations[k]. A tensor of fewer than four axes has its sizes in the first fields of
 *  the dims (n, h, w), as CMSIS-NN v7.0.0 reads them. */
arm_cmsis_nn_status arm_transpose_s8(const int8_t *input_data,
                                     int8_t *const output_data,
                                     const cmsis_nn_dims *const input_dims,
                                     const cmsis_nn_dims *const output_dims,
                                     const cmsis_nn_transpose_params *const transpose_params);

/** Copies one s8 input into a concatenation along the Y axis of a [w][z][y][x] tensor (x
 *  fastest): for each (w, z), input_y * input_x bytes go to rows offset_y.. of the output,
 *  whose Y size is output_y. Called once per input with the running offset. */
void arm_concatenation_s8_y(const int8_t *input,
                            const uint16_t input_x,
                            const uint16_t input_y,
                            const uint16_t input_z,
                            const uint16_t input_w,
                            int8_t *output,
                            const uint16_t output_y,
                            const uint32_t offset_y);

/* ---- element-wise maximum and minimum (CMSIS-NN v7.0.0 API) ---- */

/** Element-wise maximum of two s8 tensors on their raw values, NHWC dims of up to four axes;
 *  an input axis of size 1 is broadcast to the output's. ctx is unused. */
arm_cmsis_nn_status arm_maximum_s8(const cmsis_nn_context *ctx,
                                   const int8_t *input_1_data,
                                   const cmsis_nn_dims *input_1_dims,
                                   const int8_t *input_2_data,
                                   const cmsis_nn_dims *input_2_dims,
                                   int8_t *output_data,
                                   const cmsis_nn_dims *output_dims);

/** Element-wise minimum, as arm_maximum_s8. */
arm_cmsis_nn_status arm_minimum_s8(const cmsis_nn_context *ctx,
                                   const int8_t *input_1_data,
                                   const cmsis_nn_dims *input_1_dims,
                                   const int8_t *input_2_data,
                                   const cmsis_nn_dims *input_2_dims,
                                   int8_t *output_data,
                                   const cmsis_nn_dims *output_dims);

/* ---- batch matmul (CMSIS-NN v7.0.0 API) ---- */

/** output[b][i][j] = requantize(sum_k (lhs[b][i][k] + input_offset) * (rhs[b][j][k] + filter_offset))
 *  + output_offset, clamped to the activation: lhs (n, h, rows, depth), the RHS transposed
 *  (n, h, cols, depth), output (n, h, rows, cols); an n or h of 1 in one operand is broadcast. */
arm_cmsis_nn_status arm_batch_matmul_s8(const cmsis_nn_context *ctx,
                                        const cmsis_nn_bmm_params *bmm_params,
                                        const cmsis_nn_per_tensor_quant_params *quant_params,
                                        const cmsis_nn_dims *input_lhs_dims,
                                        const int8_t *input_lhs,
                                        const cmsis_nn_dims *input_rhs_dims,
                                        const int8_t *input_rhs,
                                        const cmsis_nn_dims *output_dims,
                                        int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* ARM_NNFUNCTIONS_H */
