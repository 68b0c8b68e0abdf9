/*
 * ed_transpose_conv_s8.c - int8 transpose convolution (ed_transpose_conv.h): a scatter of each
 * input pixel's products into int32 accumulators the size of one output image, then the
 * requantization. The inner loop over output channels reads the OHWI filter's input-channel rows.
 */
#include "ed_nn_support.h"
#include "ed_transpose_conv.h"

int32_t ed_transpose_conv_s8_get_buffer_size(const cmsis_nn_dims *output_dims)
{
    return output_dims->h * output_dims->w * output_dims->c * (int32_t)sizeof(int32_t);
}

arm_cmsis_nn_status ed_transpose_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_conv_params *conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input,
                                         const cmsis_nn_dims *filter_dims,
                                         const int8_t *filter,
                                         const int32_t *bias,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
    if (ctx->buf == NULL || ctx->size < ed_transpose_conv_s8_get_buffer_size(output_dims) ||
        filter_dims->n != out_c || filter_dims->c != in_c) {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    int32_t *acc = (int32_t *)ctx->buf;
    const int32_t input_offset = conv_params->input_offset;
    for (int32_t n = 0; n < input_dims->n; n++) {
        memset(acc, 0, (size_t)(out_h * out_w * out_c) * sizeof(int32_t));
        for (int32_t y = 0; y < in_h; y++) {
            for (int32_t x = 0; x < in_w; x++) {
                const int8_t *pixel = input + ((n * in_h + y) * in_w + x) * in_c;
                for (int32_t ky = 0; ky < k_h; ky++) {
                    const int32_t oy = y * conv_params->stride.h - conv_params->padding.h + ky;
                    if (oy < 0 || oy >= out_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < k_w; kx++) {
                        const int32_t ox = x * conv_params->stride.w - conv_params->padding.w + kx;
                        if (ox < 0 || ox >= out_w) {
                            continue;
                        }
                        int32_t *sum = acc + (oy * out_w + ox) * out_c;
                        const int8_t *taps = filter + (ky * k_w + kx) * in_c;
                        for (int32_t o = 0; o < out_c; o++) {
                            const int8_t *row = taps + o * k_h * k_w * in_c;
                            int32_t total = 0;
                            for (int32_t i = 0; i < in_c; i++) {
                                total += (pixel[i] + input_offset) * row[i];
                            }
                            sum[o] += total;
                        }
                    }
                }
            }
        }
        int8_t *out = output + n * out_h * out_w * out_c;
        for (int32_t p = 0; p < out_h * out_w; p++) {
            for (int32_t o = 0; o < out_c; o++) {
                int32_t value = acc[p * out_c + o] + (bias != NULL ? bias[o] : 0);
                value = ed_requantize(value, quant_params->multiplier[o], quant_params->shift[o]) +
                        conv_params->output_offset;
                value = value < conv_params->activation.min ? conv_params->activation.min : value;
                value = value > conv_params->activation.max ? conv_params->activation.max : value;
                out[p * out_c + o] = (int8_t)value;
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
