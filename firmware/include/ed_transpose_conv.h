/*
 * ed_transpose_conv.h - edge-deploy's int8 transpose convolution (TFLite TRANSPOSE_CONV), for
 * the upsampling layers of decoders.
 */
#ifndef ED_TRANSPOSE_CONV_H
#define ED_TRANSPOSE_CONV_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Scratch bytes ed_transpose_conv_s8 needs: one int32 accumulator per output element of a batch. */
int32_t ed_transpose_conv_s8_get_buffer_size(const cmsis_nn_dims *output_dims);

/** TRANSPOSE_CONV, int8 (TFLite's reference): every input pixel of input_dims (NHWC) times the
 *  OHWI filter (filter_dims: n = output channels, h, w = window, c = input channels) is added
 *  into the int32 accumulators at (y * stride.h - padding.h + ky, x * stride.w - padding.w + kx),
 *  with conv_params->input_offset added to each input; then the optional bias, per-channel
 *  requantization, the output offset and the activation clamp. ctx->buf holds the accumulators
 *  (ed_transpose_conv_s8_get_buffer_size). */
arm_cmsis_nn_status ed_transpose_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_conv_params *conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input,
                                         const cmsis_nn_dims *filter_dims,
                                         const int8_t *filter,
                                         const int32_t *bias,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* ED_TRANSPOSE_CONV_H */
