/*
 * arm_batch_matmul_s8.c - CMSIS-NN's batch matmul (v7.0.0 API), written for edge-deploy from the
 * public description: each LHS row times each row of the transposed RHS, TFLite's int8
 * requantization. The DSP path takes two bytes of each row per SMLAD.
 */
#include "ed_nn_support.h"

static int32_t ed_row_dot(const int8_t *a, const int8_t *b, int32_t depth, int32_t a_offset, int32_t b_offset)
{
    int32_t acc = 0;
    int32_t k = 0;
#if ED_NN_DSP
    const uint32_t a_off2 = ((uint32_t)(uint16_t)a_offset) * 0x00010001u;
    const uint32_t b_off2 = ((uint32_t)(uint16_t)b_offset) * 0x00010001u;
    for (; k + 4 <= depth; k += 4) {
        uint32_t wa, wb;
        memcpy(&wa, a + k, 4);
        memcpy(&wb, b + k, 4);
        const uint32_t a_even = ed_sadd16(ed_sxtb16(wa), a_off2), a_odd = ed_sadd16(ed_sxtb16_ror8(wa), a_off2);
        const uint32_t b_even = ed_sadd16(ed_sxtb16(wb), b_off2), b_odd = ed_sadd16(ed_sxtb16_ror8(wb), b_off2);
        acc = ed_smlad(a_even, b_even, acc);
        acc = ed_smlad(a_odd, b_odd, acc);
    }
#endif
    for (; k < depth; k++) {
        acc += (a[k] + a_offset) * (b[k] + b_offset);
    }
    return acc;
}

arm_cmsis_nn_status arm_batch_matmul_s8(const cmsis_nn_context *ctx,
                                        const cmsis_nn_bmm_params *bmm_params,
                                        const cmsis_nn_per_tensor_quant_params *quant_params,
                                        const cmsis_nn_dims *input_lhs_dims,
                                        const int8_t *input_lhs,
                                        const cmsis_nn_dims *input_rhs_dims,
                                        const int8_t *input_rhs,
                                        const cmsis_nn_dims *output_dims,
                                        int8_t *output)
{
    (void)ctx;
    const int32_t rows = input_lhs_dims->w, cols = input_rhs_dims->w, depth = input_lhs_dims->c;
    if (input_rhs_dims->c != depth || output_dims->w != rows || output_dims->c != cols) {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const cmsis_nn_fc_params *fc = &bmm_params->fc_params;
    const int32_t lhs_matrix = rows * depth, rhs_matrix = cols * depth;
    for (int32_t n = 0; n < output_dims->n; n++) {
        for (int32_t h = 0; h < output_dims->h; h++) {
            /* A batch axis of size 1 in an operand is broadcast. */
            const int32_t lhs_index = (input_lhs_dims->n == 1 ? 0 : n) * input_lhs_dims->h + (input_lhs_dims->h == 1 ? 0 : h);
            const int32_t rhs_index = (input_rhs_dims->n == 1 ? 0 : n) * input_rhs_dims->h + (input_rhs_dims->h == 1 ? 0 : h);
            const int8_t *lhs = input_lhs + lhs_index * lhs_matrix;
            const int8_t *rhs = input_rhs + rhs_index * rhs_matrix;
            for (int32_t i = 0; i < rows; i++) {
                for (int32_t j = 0; j < cols; j++) {
                    const int32_t acc = ed_row_dot(lhs + i * depth, rhs + j * depth, depth, fc->input_offset,
                                                   fc->filter_offset);
                    int32_t out = ed_requantize(acc, quant_params->multiplier, quant_params->shift) + fc->output_offset;
                    out = out < fc->activation.min ? fc->activation.min : (out > fc->activation.max ? fc->activation.max : out);
                    *output++ = (int8_t)out;
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}
