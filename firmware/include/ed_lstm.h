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

/** The LSTM of arm_lstm_unidirectional_s8 (the same parameters) starting from the int16 cell
 *  state in buffers->cell_state and the int8 output state output_state (batch_size *
 *  hidden_size values each, batch rows contiguous), both updated to the state after the last
 *  time step. output_state NULL: start from a zero output state and keep none. Bit-exact with
 *  TFLite's full-integer (8x8->16) LSTM kernel without peephole, projection or layer norm:
 *  double rounding, gemmlowp's int16 sigmoid (Q3.12) and tanh, cell_clip 0 for no clip. */
arm_cmsis_nn_status ed_lstm_unidirectional_s8(const int8_t *input,
                                              int8_t *output,
                                              const cmsis_nn_lstm_params *params,
                                              cmsis_nn_lstm_context *buffers,
                                              int8_t *output_state);

#ifdef __cplusplus
}
#endif

#endif /* ED_LSTM_H */
