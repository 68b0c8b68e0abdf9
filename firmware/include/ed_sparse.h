/*
 * ed_sparse.h - edge-deploy's sparse s8 kernels: convolution and fully connected on pruned
 * int8 weights, bit-exact with arm_convolve_s8 / arm_fully_connected_*_s8 on the same weights.
 *
 * Weight format (ed_sparse_weights_s8), CSR over groups. A filter's weights are read per output
 * channel in the dense kernels' order: OHWI flattened, one row of k_total = kh * kw * cin
 * elements per output channel ((kh, kw, cin) order; for fully connected, the row of input
 * features). Each row is cut into groups of group_size consecutive elements from its start (the
 * last group padded with zeros), the grouping of edge_deploy.slim.scalpel. Only groups holding a
 * nonzero weight are stored:
 *
 *   row_counts[oc]   kept groups of output channel oc
 *   index8/index16   the kept groups' numbers (group g starts at element g * group_size), row
 *                    after row, ascending; uint8 when a row has at most 256 groups (index16 is
 *                    NULL), else uint16 (index8 is NULL)
 *   values           the kept groups' weights, group_size int8 each, in the same order
 *
 * group_size 4 (ed_*_group_sparse_s8): one 32-bit word of weights per kept group; the DSP path
 * feeds it to two SMLAD per output (SXTB16 twice), four output positions per weight load.
 * group_size 1 (ed_*_csr_s8): plain unstructured sparsity, one index per nonzero weight and a
 * scalar multiply-accumulate per index, for comparison.
 *
 * Requires a zero weight zero point (fully connected filter_offset 0): only then is a stored
 * zero a weight that contributes nothing.
 */
#ifndef ED_SPARSE_H
#define ED_SPARSE_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct
{
    int32_t group_size;         /* 4 (group-sparse kernels) or 1 (CSR kernels) */
    int32_t row_groups;         /* groups per row: ceil(k_total / group_size) */
    const uint16_t *row_counts; /* kept groups per output channel */
    const uint8_t *index8;      /* kept group numbers when row_groups <= 256, else NULL */
    const uint16_t *index16;    /* kept group numbers when row_groups > 256, else NULL */
    const int8_t *values;       /* kept groups' weights, group_size bytes each */
} ed_sparse_weights_s8;

/** Convolution (TFLite CONV_2D, per-channel quantized) on group-sparse weights (group_size 4).
 *  Arguments as arm_convolve_s8, with the filter given as sparse weights; filter_dims still
 *  gives the dense OHWI shape. ctx->buf must hold ed_convolve_sparse_s8_get_buffer_size bytes. */
arm_cmsis_nn_status ed_convolve_group_sparse_s8(const cmsis_nn_context *ctx,
                                                const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_per_channel_quant_params *quant_params,
                                                const cmsis_nn_dims *input_dims,
                                                const int8_t *input_data,
                                                const cmsis_nn_dims *filter_dims,
                                                const ed_sparse_weights_s8 *filter,
                                                const cmsis_nn_dims *bias_dims,
                                                const int32_t *bias_data,
                                                const cmsis_nn_dims *output_dims,
                                                int8_t *output_data);

/** ed_convolve_group_sparse_s8 followed by a max pool of window 2 and stride 2 along the row (no
 *  padding), in one call: conv_dims are the convolution's output dims (one row), output_dims and
 *  output_data the pool's (width conv_dims->w / 2). The conv output
 *  is never stored; on the fast path (every channel a non-negative multiplier and a right shift,
 *  so requantization is monotonic) the maximum is taken before requantization. Scratch:
 *  ed_convolve_sparse_s8_get_buffer_size with conv_dims. */
arm_cmsis_nn_status ed_convolve_group_sparse_maxpool2_s8(const cmsis_nn_context *ctx,
                                                        const cmsis_nn_conv_params *conv_params,
                                                        const cmsis_nn_per_channel_quant_params *quant_params,
                                                        const cmsis_nn_dims *input_dims,
                                                        const int8_t *input_data,
                                                        const cmsis_nn_dims *filter_dims,
                                                        const ed_sparse_weights_s8 *filter,
                                                        const cmsis_nn_dims *bias_dims,
                                                        const int32_t *bias_data,
                                                        const cmsis_nn_dims *conv_dims,
                                                        const cmsis_nn_dims *output_dims,
                                                        int8_t *output_data);

/** Same arithmetic on unstructured sparse weights (group_size 1, one index per nonzero). */
arm_cmsis_nn_status ed_convolve_csr_s8(const cmsis_nn_context *ctx,
                                       const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims,
                                       const int8_t *input_data,
                                       const cmsis_nn_dims *filter_dims,
                                       const ed_sparse_weights_s8 *filter,
                                       const cmsis_nn_dims *bias_dims,
                                       const int32_t *bias_data,
                                       const cmsis_nn_dims *output_dims,
                                       int8_t *output_data);

/** Scratch bytes both sparse convolutions need, on either kernel path: four widened input
 *  patches of ceil(kh * kw * cin / 4) * 4 int16 each, plus, for a 1-D convolution whose windows
 *  start on groups of four elements (input, filter and output one row, dilation 1, stride * cin
 *  a power of two from 8 to 128, left padding * cin and kw * cin multiples of 4), the input row
 *  widened once: ((ceil(out_w / 4) * 4 - 1) * stride + kw) * cin int16; then 28 bytes per
 *  output channel (a table of bias, kept count and prepared requantization, and a block's
 *  outputs). */
int32_t ed_convolve_sparse_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params, const cmsis_nn_dims *input_dims,
                                              const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims);

/** Fully connected on group-sparse weights (group_size 4). input_dims.n rows of filter_dims.n
 *  features each, filter_dims.c outputs (as arm_fully_connected_s8). quant holds one multiplier
 *  and shift per output when quant_step is 1, a single one when quant_step is 0 (per tensor).
 *  fc_params->filter_offset must be 0. ctx->buf must hold
 *  ed_fully_connected_sparse_s8_get_buffer_size bytes. */
arm_cmsis_nn_status ed_fully_connected_group_sparse_s8(const cmsis_nn_context *ctx,
                                                       const cmsis_nn_fc_params *fc_params,
                                                       const cmsis_nn_per_channel_quant_params *quant,
                                                       int32_t quant_step,
                                                       const cmsis_nn_dims *input_dims,
                                                       const int8_t *input_data,
                                                       const cmsis_nn_dims *filter_dims,
                                                       const ed_sparse_weights_s8 *filter,
                                                       const cmsis_nn_dims *bias_dims,
                                                       const int32_t *bias_data,
                                                       const cmsis_nn_dims *output_dims,
                                                       int8_t *output_data);

/** Same arithmetic on unstructured sparse weights (group_size 1). */
arm_cmsis_nn_status ed_fully_connected_csr_s8(const cmsis_nn_context *ctx,
                                              const cmsis_nn_fc_params *fc_params,
                                              const cmsis_nn_per_channel_quant_params *quant,
                                              int32_t quant_step,
                                              const cmsis_nn_dims *input_dims,
                                              const int8_t *input_data,
                                              const cmsis_nn_dims *filter_dims,
                                              const ed_sparse_weights_s8 *filter,
                                              const cmsis_nn_dims *bias_dims,
                                              const int32_t *bias_data,
                                              const cmsis_nn_dims *output_dims,
                                              int8_t *output_data);

/** Scratch bytes both sparse fully connected kernels need: one widened input row of
 *  ceil(filter_dims.n / 4) * 4 int16. */
int32_t ed_fully_connected_sparse_s8_get_buffer_size(const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_SPARSE_H */
