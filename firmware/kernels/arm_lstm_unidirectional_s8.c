/*
 * arm_lstm_unidirectional_s8.c - the CMSIS-NN API's LSTM (v6.0.0): edge-deploy's LSTM from a
 * zero output state and a zero cell state (the API keeps no state between calls).
 */
#include "ed_lstm.h"
#include "ed_nn_support.h"

arm_cmsis_nn_status arm_lstm_unidirectional_s8(const int8_t *input,
                                               int8_t *output,
                                               const cmsis_nn_lstm_params *params,
                                               cmsis_nn_lstm_context *buffers)
{
    memset(buffers->cell_state, 0, (size_t)(params->batch_size * params->hidden_size) * sizeof(int16_t));
    return ed_lstm_unidirectional_s8(input, output, params, buffers, NULL);
}
