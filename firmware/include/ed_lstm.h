/*
 * ed_lstm.h - edge-deploy's LSTM with a state carried from one call to the next (TFLite's
 * UNIDIRECTIONAL_SEQUENCE_LSTM keeps its output and cell state in variable tensors).
 */
#ifndef ED_LSTM_H
#define ED_LSTM_H

#include <stdint.h>
#include <string.h> /* the generated layer copies the state with memcpy */

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An LSTM over a sequence (CMSIS-NN's arm_lstm_unidirectional_s8 parameters, v6.0.0 API),
 *  int8 input and output, int16 gates and cell state, int32 effective biases, continuing from
 *  the int16 cell state cell_state and the int8 output state output_state (batch_size *
 *  hidden_size values each, batch rows contiguous), both left at the state after the last time
 *  step; output_state NULL: start from a zero output state and a zero cell state and keep none.
 *  scratch: two int16 gate buffers of batch_size * hidden_size values. Bit-exact with TFLite's
 *  full-integer (8x8->16) LSTM kernel without peephole, projection or layer norm: double
 *  rounding, gemmlowp's int16 sigmoid (Q3.12) and tanh, cell_clip 0 for no clip (upstream's
 *  function interpolates a table for the activations instead). */
arm_cmsis_nn_status ed_lstm_unidirectional_s8(const int8_t *input,
                                              int8_t *output,
                                              const cmsis_nn_lstm_params *params,
                                              int16_t *scratch,
                                              int16_t *cell_state,
                                              int8_t *output_state);

/** Bytes of scratch ed_lstm_unidirectional_s8 needs: its two int16 gate buffers. */
int32_t ed_lstm_unidirectional_s8_get_buffer_size(const cmsis_nn_lstm_params *params);

#ifdef __cplusplus
}
#endif

#endif /* ED_LSTM_H */
