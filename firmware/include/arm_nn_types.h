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

/* ---- LSTM (CMSIS-NN v6.0.0 API types; cmsis_nn_lstm_context is left out: upstream main added a
 * field to it, and ed_lstm_unidirectional_s8 takes its buffers as arguments so it links beside
 * any release) ---- */

/** Activation functions of the int16 LSTM gates. */
typedef enum
{
    ARM_SIGMOID = 0,
    ARM_TANH = 1,
} arm_nn_activation_type;

/** Dimensions of an LSTM. */
typedef struct
{
    int32_t max_time;
    int32_t num_inputs;
    int32_t num_batches;
    int32_t num_outputs;
} cmsis_nn_lstm_dims;

/** One LSTM gate: the input and the recurrent (hidden) product, each with its requantization
 *  to the Q3.12 gate and its effective int32 bias (zero points folded in); bias is unused by
 *  the s8 kernel (it is part of input_effective_bias). */
typedef struct
{
    int32_t input_multiplier;
    int32_t input_shift;
    const void *input_weights;
    const void *input_effective_bias;

    int32_t hidden_multiplier;
    int32_t hidden_shift;
    const void *hidden_weights;
    const void *hidden_effective_bias;

    const void *bias;
    arm_nn_activation_type activation_type;
} cmsis_nn_lstm_gate;

/** An LSTM layer: layout, sizes, the cell update's and the output's requantization, the cell
 *  clip and log2 of the cell state's scale, and the four gates. */
typedef struct
{
    int32_t time_major; /* 0: (batch, time, features), else (time, batch, features) */
    int32_t batch_size;
    int32_t time_steps;
    int32_t input_size;
    int32_t hidden_size;

    int32_t input_offset;

    int32_t forget_to_cell_multiplier;
    int32_t forget_to_cell_shift;
    int32_t input_to_cell_multiplier;
    int32_t input_to_cell_shift;
    int32_t cell_clip;
    int32_t cell_scale_power;

    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;

    cmsis_nn_lstm_gate forget_gate;
    cmsis_nn_lstm_gate input_gate;
    cmsis_nn_lstm_gate cell_gate;
    cmsis_nn_lstm_gate output_gate;
} cmsis_nn_lstm_params;


#endif /* ARM_NN_TYPES_H */
