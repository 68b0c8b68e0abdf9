/*
 * arm_fully_connected_per_channel_s8.c - s8 fully connected layer with one requantization per
 * output channel (what converters now emit for Dense layers), edge-deploy's own
 * implementation of the CMSIS-NN function of that name (loop in ed_fully_connected.h).
 * No CMSIS-NN code.
 */
#include "ed_fully_connected.h"

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
                                                       int8_t *output_data)
{
    (void)ctx;
    (void)bias_dims;
    (void)output_dims;
    ed_fully_connected(fc_params, quant_params->multiplier, quant_params->shift, 1, input_dims->n, filter_dims->n,
                       filter_dims->c, input_data, filter_data, bias_data, output_data);
    return ARM_CMSIS_NN_SUCCESS;
}
