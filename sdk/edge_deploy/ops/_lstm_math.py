"""The integer maths of TFLite's full-integer LSTM ("8x8->16": int8 input, output state and
weights, int16 gates and cell state, int32 biases), one function per step of TFLite's
``lstm_eval`` integer path, used by the UNIDIRECTIONAL_SEQUENCE_LSTM reference
(``ops/unidirectional_sequence_lstm.py``) and mirrored by the C (``firmware/kernels/ed_lstm_s8.c``).

Per time step, for each gate (input, forget, cell, output, in that order of the weights):
``gate = act(sat16(requant(W_x x + b_x', m_x) + requant(W_h h + b_h', m_h)))`` where the
effective biases fold the zero points in (``b_x' = bias - x_zp * rowsum(W_x)``,
``b_h' = -h_zp * rowsum(W_h)``), each requantized sum saturates to int16, the activation is
gemmlowp's sigmoid of Q3.12 (tanh for the cell gate) to Q0.15. Then the cell
``c = sat16(round(f * c / 2**15) + round(i * g / 2**(30 + cell_power)))`` (clipped when a clip
is set) and the hidden state ``h = sat8(requant(o * tanh(c), m_hidden) + h_zp)``.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier
from edge_deploy.numerics.fixedpoint16 import logistic_q015, rounding_divide_by_pot, tanh_q015

GATES = ("input", "forget", "cell", "output")


def effective_biases(w_input: np.ndarray, w_hidden: np.ndarray, bias: np.ndarray | None, input_zero_point: int,
                     hidden_zero_point: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's PrecomputeZeroPointTimesWeightWithBias for one gate: the int32 biases of the
    input and the recurrent product with the zero points folded in."""
    x_bias = np.zeros(w_input.shape[0], dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    x_bias = x_bias - int(input_zero_point) * w_input.astype(np.int64).sum(axis=1)
    h_bias = -int(hidden_zero_point) * w_hidden.astype(np.int64).sum(axis=1)
    return x_bias, h_bias


def _accumulate(gate, values, weights, bias, mult, shift, rounding) -> np.ndarray:
    acc = values.astype(np.int64) @ weights.astype(np.int64).T + bias
    return np.clip(gate + multiply_by_quantized_multiplier(acc, mult, shift, rounding), -32768, 32767)


def lstm_step(x, h, c, *, weights, biases, mults, cell_power: int, cell_clip: int, hidden_mult: int,
              hidden_shift: int, hidden_zero_point: int, rounding: str):
    """One time step on ``(batch, features)`` int64 arrays; returns the new ``(h, c)``.

    ``weights[g]`` is ``(W_x, W_h)`` of gate ``g`` in :data:`GATES` order, ``biases[g]`` its
    ``(b_x', b_h')`` from :func:`effective_biases`, ``mults[g]`` ``(m_x, s_x, m_h, s_h)``."""
    gates = []
    for g, name in enumerate(GATES):
        w_x, w_h = weights[g]
        m_x, s_x, m_h, s_h = mults[g]
        acc = _accumulate(np.zeros((x.shape[0], w_x.shape[0]), dtype=np.int64), x, w_x, biases[g][0], m_x, s_x,
                          rounding)
        acc = _accumulate(acc, h, w_h, biases[g][1], m_h, s_h, rounding)
        gates.append(tanh_q015(acc, 3) if name == "cell" else logistic_q015(acc, 3))
    i, f, g, o = gates
    c = np.clip(rounding_divide_by_pot(f * c, 15) + rounding_divide_by_pot(i * g, 30 + cell_power), -32768, 32767)
    if cell_clip > 0:
        c = np.clip(c, -cell_clip, cell_clip)
    hidden = multiply_by_quantized_multiplier(o * tanh_q015(c, 15 + cell_power), hidden_mult, hidden_shift, rounding)
    h = np.clip(hidden + int(hidden_zero_point), -128, 127)
    return h, c
