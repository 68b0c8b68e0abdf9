/*
 * arm_nn_types.h - the CMSIS-NN parameter structs used by the s8 kernels edge-deploy calls.
 *
 * Written for edge-deploy from Arm's public CMSIS-NN API description (v6.0.0 header
 * layout): same type names, field names and field order, so generated code compiles
 * unchanged against upstream CMSIS-NN (`edge-deploy build --cmsis-nn PATH`).
 * Only the subset the s8 operators need is declared.
 */
#ifndef ARM_NN_TYPES_H
#define ARM_NN_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/** Function return codes. */
typedef enum
{
    ARM_CMSIS_NN_SUCCESS = 0,
    ARM_CMSIS_NN_ARG_ERROR = -1,
    ARM_CMSIS_NN_NO_IMPL_ERROR = -2,
    ARM_CMSIS_NN_FAILURE = -3,
} arm_cmsis_nn_status;

/** Width and height of a stride, padding or dilation. */
typedef struct
{
    int32_t w;
    int32_t h;
} cmsis_nn_tile;

/** Scratch buffer handed to a kernel; size comes from its *_get_buffer_size(). */
typedef struct
{
    void *buf;
    int32_t size;
} cmsis_nn_context;

/** Tensor dimensions, NHWC; n is the batch or, for filters, the output channels. */
typedef struct
{
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} cmsis_nn_dims;

/** Per-output-channel requantization: one multiplier (Q31) and shift per channel. */
typedef struct
{
    int32_t *multiplier;
    int32_t *shift;
} cmsis_nn_per_channel_quant_params;

/** Per-tensor requantization. */
typedef struct
{
    int32_t multiplier;
    int32_t shift;
} cmsis_nn_per_tensor_quant_params;

/** Clamp range of the fused activation, in output quantized units. */
typedef struct
{
    int32_t min;
    int32_t max;
} cmsis_nn_activation;

/** Convolution parameters. Offsets are the negated zero points. */
typedef struct
{
    int32_t input_offset;
    int32_t output_offset;
    cmsis_nn_tile stride;
    cmsis_nn_tile padding;
    cmsis_nn_tile dilation;
    cmsis_nn_activation activation;
} cmsis_nn_conv_params;

/** Depthwise convolution parameters; ch_mult * input channels = output channels. */
typedef struct
{
    int32_t input_offset;
    int32_t output_offset;
    int32_t ch_mult;
    cmsis_nn_tile stride;
    cmsis_nn_tile padding;
    cmsis_nn_tile dilation;
    cmsis_nn_activation activation;
} cmsis_nn_dw_conv_params;

/** Pooling parameters. */
typedef struct
{
    cmsis_nn_tile stride;
    cmsis_nn_tile padding;
    cmsis_nn_activation activation;
} cmsis_nn_pool_params;

/** SVDF parameters. Unlike the other layers' offsets, TFLM passes the input and output zero
 *  points themselves here (not negated); the activations are the int16 clamp of the state and
 *  the int8 clamp of the output. */
typedef struct
{
    int32_t rank;
    int32_t input_offset;
    int32_t output_offset;
    cmsis_nn_activation input_activation;
    cmsis_nn_activation output_activation;
} cmsis_nn_svdf_params;

/** Fully connected parameters. */
typedef struct
{
    int32_t input_offset;
    int32_t filter_offset;
    int32_t output_offset;
    cmsis_nn_activation activation;
} cmsis_nn_fc_params;

/* ---- data movement (CMSIS-NN v7.0.0 API) ---- */

/** Transpose parameters: output axis k is input axis permutations[k] (num_dims <= 4). */
typedef struct
{
    const int32_t num_dims;
    const uint32_t *permutations;
} cmsis_nn_transpose_params;

/** Batch matmul parameters (CMSIS-NN v7.0.0): the adjoint flags are unused (the RHS comes
 *  transposed); fc_params.input_offset is the LHS's, filter_offset the RHS's. */
typedef struct
{
    const bool adj_x;
    const bool adj_y;
    cmsis_nn_fc_params fc_params;
} cmsis_nn_bmm_params;

#endif /* ARM_NN_TYPES_H */
