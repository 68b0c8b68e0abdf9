/*
 * ed_lstm_unidirectional_s8.c - TFLite's full-integer LSTM (int8 input, output and weights,
 * int16 gates and cell state, int32 biases) over a sequence, continuing from a given state.
 *
 * Per time step, as TFLite's lstm_eval integer path: each gate is the requantized input
 * product plus the requantized recurrent product (each added with int16 saturation), then its
 * activation (gemmlowp sigmoid of Q3.12; tanh for the cell gate); the cell becomes
 * f * c / 2^15 + i * g / 2^(30 + cell power) (saturated, clipped), the output
 * o * tanh(c) requantized to int8. The order of the gates and the two int16 scratch buffers
 * follow the CMSIS-NN API's step (forget, input, cell, output). Written for edge-deploy.
 */
#include "ed_fixedpoint16.h"
#include "ed_lstm.h"
#include "ed_nn_support.h"

/* MultiplyByQuantizedMultiplier with double rounding, whatever the build's rounding: TFLite's
 * LSTM rounds twice in every interpreter (measured: ai-edge-litert). */
static int32_t lstm_requantize(int32_t val, int32_t multiplier, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return ed_divide_by_pot(ed_sat_doubling_high_mult(ed_shift_left_wrap(val, left_shift), multiplier), right_shift);
}

/* gate[b][u] = sat16(gate[b][u] + requant(bias[u] + sum_k rows[b][k] * weights[u][k])). */
static void lstm_accumulate(int16_t *gate, const int8_t *rows, int32_t row_stride, const int8_t *weights,
                            const int32_t *bias, int32_t multiplier, int32_t shift, int32_t batches, int32_t depth,
                            int32_t units)
{
    for (int32_t b = 0; b < batches; b++)
    {
        const int8_t *row = rows + b * row_stride;
        for (int32_t u = 0; u < units; u++)
        {
            const int8_t *w = weights + u * depth;
            int32_t acc = bias[u];
            for (int32_t k = 0; k < depth; k++)
            {
                acc += (int32_t)row[k] * (int32_t)w[k];
            }
            int32_t sum = lstm_requantize(acc, multiplier, shift) + gate[b * units + u];
            sum = sum > INT16_MAX ? INT16_MAX : (sum < INT16_MIN ? INT16_MIN : sum);
            gate[b * units + u] = (int16_t)sum;
        }
    }
}

/* One gate for every batch row: the input product, the recurrent one (unless the hidden state
 * is zero: hidden NULL), the activation. */
static void lstm_gate(int16_t *gate, const cmsis_nn_lstm_gate *g, const cmsis_nn_lstm_params *params,
                      const int8_t *input, int32_t input_stride, const int8_t *hidden, int32_t hidden_stride)
{
    const int32_t units = params->hidden_size;
    const int32_t count = params->batch_size * units;
    memset(gate, 0, (size_t)count * sizeof(int16_t));
    lstm_accumulate(gate, input, input_stride, (const int8_t *)g->input_weights,
                    (const int32_t *)g->input_effective_bias, g->input_multiplier, g->input_shift,
                    params->batch_size, params->input_size, units);
    if (hidden != NULL)
    {
        lstm_accumulate(gate, hidden, hidden_stride, (const int8_t *)g->hidden_weights,
                        (const int32_t *)g->hidden_effective_bias, g->hidden_multiplier, g->hidden_shift,
                        params->batch_size, units, units);
    }
    for (int32_t i = 0; i < count; i++)
    {
        gate[i] = g->activation_type == ARM_TANH ? ed_q16_tanh(gate[i], 3) : ed_q16_logistic(gate[i], 3);
    }
}

arm_cmsis_nn_status ed_lstm_unidirectional_s8(const int8_t *input,
                                              int8_t *output,
                                              const cmsis_nn_lstm_params *params,
                                              int16_t *scratch,
                                              int16_t *cell_state,
                                              int8_t *output_state)
{
    const int32_t units = params->hidden_size;
    const int32_t count = params->batch_size * units;
    const int32_t clip = params->cell_clip > 0 ? params->cell_clip : 0;
    /* Batch-major: the batch rows of one step are time_steps rows apart; time-major: adjacent. */
    const int32_t row_step = params->time_major ? 1 : params->time_steps;
    const int32_t time_step_in = params->time_major ? params->batch_size * params->input_size : params->input_size;
    const int32_t time_step_out = params->time_major ? count : units;
    int16_t *const temp1 = scratch;
    int16_t *const temp2 = scratch + count;
    int16_t *const cell = cell_state;
    if (params->cell_scale_power < -15 || params->cell_scale_power > -10)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }

    if (output_state == NULL)
    {
        memset(cell, 0, (size_t)count * sizeof(int16_t));
    }
    const int8_t *hidden = output_state;
    int32_t hidden_stride = units;
    for (int32_t t = 0; t < params->time_steps; t++)
    {
        const int8_t *in = input + t * time_step_in;
        int8_t *out = output + t * time_step_out;

        lstm_gate(temp1, &params->forget_gate, params, in, row_step * params->input_size, hidden, hidden_stride);
        for (int32_t i = 0; i < count; i++)
        {
            cell[i] = ed_q16_wrap(ed_q16_divide_by_pot((int32_t)temp1[i] * cell[i], 15));
        }
        lstm_gate(temp1, &params->input_gate, params, in, row_step * params->input_size, hidden, hidden_stride);
        lstm_gate(temp2, &params->cell_gate, params, in, row_step * params->input_size, hidden, hidden_stride);
        for (int32_t i = 0; i < count; i++)
        {
            int32_t c = cell[i] + ed_q16_divide_by_pot((int32_t)temp1[i] * temp2[i], 30 + params->cell_scale_power);
            c = c > INT16_MAX ? INT16_MAX : (c < INT16_MIN ? INT16_MIN : c);
            if (clip)
            {
                c = c > clip ? clip : (c < -clip ? -clip : c);
            }
            cell[i] = (int16_t)c;
        }
        lstm_gate(temp1, &params->output_gate, params, in, row_step * params->input_size, hidden, hidden_stride);
        for (int32_t b = 0; b < params->batch_size; b++)
        {
            for (int32_t u = 0; u < units; u++)
            {
                const int32_t i = b * units + u;
                const int32_t product = (int32_t)temp1[i] * ed_q16_tanh(cell[i], 15 + params->cell_scale_power);
                int32_t h = lstm_requantize(product, params->output_multiplier, params->output_shift) +
                            params->output_offset;
                h = h > 127 ? 127 : (h < -128 ? -128 : h);
                out[b * row_step * units + u] = (int8_t)h;
            }
        }
        hidden = out;
        hidden_stride = row_step * units;
    }
    if (output_state != NULL && params->time_steps > 0)
    {
        for (int32_t b = 0; b < params->batch_size; b++)
        {
            memcpy(output_state + b * units, hidden + b * hidden_stride, (size_t)units);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_lstm_unidirectional_s8_get_buffer_size(const cmsis_nn_lstm_params *params)
{
    return 2 * params->batch_size * params->hidden_size * (int32_t)sizeof(int16_t);
}
