/*
 * ed_winograd.h - edge-deploy's Winograd F(4,3) kernel for s8 convolutions, along the rows.
 *
 * Not part of the CMSIS-NN API: the build calls it (instead of arm_convolve_s8) for a
 * convolution with dilation 1 (1-D, or 2-D with any filter height, stride and padding) when it
 * executes fewer cycles,
 * with the filter transformed at build time (edge_deploy.codegen.winograd). Bit-exact with
 * TFLite's CONV_2D: every product is an exact integer, and the result is divided exactly.
 *
 * The method. A strided, K-tap convolution is first rewritten as a stride-1, 3-tap one over
 * "virtual channels": the input row of L positions x C channels is read as L/s positions of
 * s*C channels (the s phases of the stride side by side, a free reshape), and the K taps
 * become ceil(ceil(K/s)/3) segments of three taps, each over the input shifted by three
 * virtual positions; segment q, phase p, channel c is virtual channel q*S4 + p*C + c, with the
 * s*C channels of a segment padded with zeros to S4, a multiple of four. A filter of R rows
 * (a 2-D convolution) adds R such rows: filter row r reads input row oy * stride_h - pad_top + r
 * (one outside the input reads as zeros, the zero point with the offset added), and its
 * virtual channels follow the row before's, r * segments * S4 + q * S4 + p * C + c: one more
 * sum over virtual channels, so nothing else changes. Then every four
 * outputs of every output channel are, with d the six inputs of a tile (offset added) and g
 * one virtual channel's three taps,
 *
 *     V = Bt d   (six int16 values per tile and virtual channel, shared by all outputs)
 *     U = G g    (six int16 values per output and virtual channel, scaled by 24: build time)
 *     M = sum over virtual channels of U * V   (six int32 sums: SMLAD on channel pairs)
 *     24 y = At M   (exact), so y = At M / 24 exactly
 *
 *   Bt = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   24 G = [6 0 0; -4 -4 -4; -4 4 -4; 1 2 4; 1 -2 4; 0 0 24]
 *   At = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *
 * Six multiplies for four outputs of a 3-tap segment instead of twelve. Limits: |V| <= 2550
 * and |U| <= 3072 fit int16; the sums are taken modulo 2^32, which is exact as long as
 * 24 |y| < 2^31, i.e. R * K * C <= ED_WINOGRAD_MAX_KC.
 *
 * Transformed filter layout (uint32 words, two int16 per word, the lower channel in the low
 * halfword): output channels in blocks of four (the last block zero-padded), then the six
 * components, then the virtual channel pairs, then the four channels of the block:
 *     word ((block * 6 + j) * pairs + pair) * 4 + o
 * where pairs = R * segments * S4 / 2 and, within each group of four virtual channels v..v+3,
 * pair 2g holds channels (v, v + 2) and pair 2g + 1 holds (v + 1, v + 3) (the order SXTB16
 * unpacks a word of four int8 channels).
 */
#ifndef ED_WINOGRAD_H
#define ED_WINOGRAD_H

#include <stdint.h>

#include "arm_nn_types.h"
#include "ed_convolve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* R * K * C (filter rows x taps x channels) above which 24 * |y| could leave int32. */
#define ED_WINOGRAD_MAX_KC 2740

/* Geometry of a layer's transform (all derived from the dims and the stride). */
typedef struct
{
    int32_t rows;         /* filter rows (1 for a 1-D convolution) */
    int32_t segments;     /* three-tap segments of a filter row: ceil(ceil(K / stride) / 3) */
    int32_t group;        /* virtual channels per segment, stride * C rounded up to 4 */
    int32_t row_pairs;    /* virtual channel pairs of one filter row: segments * group / 2 */
    int32_t pairs;        /* virtual channel pairs of the whole filter: rows * row_pairs */
    int32_t blocks;       /* output channel blocks of four */
    int32_t weight_words; /* uint32 words of the transformed filter */
} ed_winograd_geometry;

/* The geometry for these dims and stride; returns 0 when the kernel cannot run the layer
 * (dilation not 1, stride < 1, R * K * C too large). */
int ed_winograd_geometry_of(const cmsis_nn_conv_params *conv_params, const cmsis_nn_dims *input_dims,
                            const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims,
                            ed_winograd_geometry *geometry);

/* Like arm_convolve_s8, with `weights` the transformed filter (layout above) in place of the
 * int8 filter. Scratch: ed_convolve_winograd_s8_get_buffer_size bytes, 4-byte aligned. */
arm_cmsis_nn_status ed_convolve_winograd_s8(const cmsis_nn_context *ctx,
                                               const cmsis_nn_conv_params *conv_params,
                                               const cmsis_nn_per_channel_quant_params *quant_params,
                                               const cmsis_nn_dims *input_dims,
                                               const int8_t *input_data,
                                               const cmsis_nn_dims *filter_dims,
                                               const uint32_t *weights,
                                               const cmsis_nn_dims *bias_dims,
                                               const int32_t *bias_data,
                                               const cmsis_nn_dims *output_dims,
                                               int8_t *output_data);

/* The convolution followed by a max pool of window 2 and stride 2 along the row (VALID: the
 * pool's output width is conv_dims->w / 2), without the convolution's output in memory: each
 * pair of neighbouring accumulators is reduced to its maximum before the requantization, which
 * is monotonic, so the result equals arm_convolve_s8 then arm_max_pool_s8 bit for bit (when
 * every requantization multiplier is positive, as TFLite's are). output_dims are the pooled
 * output's. */
arm_cmsis_nn_status ed_convolve_1d_winograd_maxpool2_s8(const cmsis_nn_context *ctx,
                                                        const cmsis_nn_conv_params *conv_params,
                                                        const cmsis_nn_per_channel_quant_params *quant_params,
                                                        const cmsis_nn_dims *input_dims,
                                                        const int8_t *input_data,
                                                        const cmsis_nn_dims *filter_dims,
                                                        const uint32_t *weights,
                                                        const cmsis_nn_dims *bias_dims,
                                                        const int32_t *bias_data,
                                                        const cmsis_nn_dims *conv_dims,
                                                        const cmsis_nn_dims *output_dims,
                                                        int8_t *output_data);

/* The convolution with an ADD fused after it (a ResNet's residual): ed_convolve_add_s8's
 * ed_conv_add_t (ed_convolve.h) with the convolution's output as the ADD's first input. Each
 * pair of tiles' outputs (eight positions) is staged in the scratch, then added to add->other's
 * into output_data, which may be add->other; the convolution's output is never stored. Scratch:
 * ed_convolve_winograd_add_s8_get_buffer_size bytes. */
arm_cmsis_nn_status ed_convolve_winograd_add_s8(const cmsis_nn_context *ctx,
                                                const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_per_channel_quant_params *quant_params,
                                                const cmsis_nn_dims *input_dims,
                                                const int8_t *input_data,
                                                const cmsis_nn_dims *filter_dims,
                                                const uint32_t *weights,
                                                const cmsis_nn_dims *bias_dims,
                                                const int32_t *bias_data,
                                                const cmsis_nn_dims *output_dims,
                                                const ed_conv_add_t *add,
                                                int8_t *output_data);

/* Scratch bytes of ed_convolve_winograd_add_s8: the convolution's and eight positions' outputs. */
int32_t ed_convolve_winograd_add_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params,
                                                    const cmsis_nn_dims *input_dims,
                                                    const cmsis_nn_dims *filter_dims);

/* Scratch bytes: the transformed input rows of a strip of two tiles, one per filter row
 * (6 * pairs * 2 words; each input row is transformed once per strip and kept, moved up, while
 * the output rows below read it). */
int32_t ed_convolve_winograd_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params,
                                                   const cmsis_nn_dims *input_dims,
                                                   const cmsis_nn_dims *filter_dims);

#ifdef __cplusplus
}
#endif

#endif /* ED_WINOGRAD_H */
