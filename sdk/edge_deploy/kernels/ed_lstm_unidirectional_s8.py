"""``ed_lstm_unidirectional_s8``: edge-deploy's LSTM on CMSIS-NN's LSTM parameter types
(``cmsis_nn_lstm_params``, v6.0.0 API), continuing from the output and cell state (the variable
tensors) it is given.

Not upstream's ``arm_lstm_unidirectional_s8``, for reasons measured against ai-edge-litert:
upstream's activations interpolate a 256-entry table, where TFLite's integer LSTM computes
gemmlowp's int16 sigmoid and tanh (so upstream is not bit-exact with TFLite), and up to v7.0.0
its API clears the cell state and starts from a zero output state at every call, while TFLite
carries both from one invocation to the next (upstream main added a ``hidden_state`` buffer for
that). The effective biases (zero points times the weight row sums, plus the bias) are computed
at build time, as TFLM does in its prepare step."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall
from edge_deploy.numerics.fixedpoint import quantize_multiplier
from edge_deploy.ops._lstm_math import GATES, effective_biases
from edge_deploy.ops.unidirectional_sequence_lstm import BIASES, INPUT_WEIGHTS, OP, RECURRENT_WEIGHTS


class EdLstmUnidirectionalS8(KernelSpec):
    name = "ed_lstm_unidirectional_s8"
    op = "unidirectional_sequence_lstm"
    header = "ed_lstm.h"
    cost_terms = ("macs", "cell_updates", "steps")
    calibration = ({"lstm": (1, 8, 6, 12)}, {"lstm": (1, 4, 16, 16)}, {"lstm": (2, 5, 8, 8), "time_major": True},
                   {"lstm": (1, 16, 10, 20)}, {"lstm": (1, 3, 32, 4)}, {"lstm": (3, 6, 4, 10)})

    def _sizes(self, call: LayerCall) -> tuple[int, int, int, int]:
        return OP.dims(call.graph, call.op)

    def scratch_bytes(self, call: LayerCall) -> int:
        """Two int16 gate buffers (the state lives in the variable tensors): the C
        ``ed_lstm_unidirectional_s8_get_buffer_size``."""
        batch, _, _, units = self._sizes(call)
        return 2 * 2 * batch * units

    def cost_features(self, call: LayerCall) -> list[float]:
        batch, time, _, units = self._sizes(call)
        return [call.macs, batch * time * units, time]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        graph, op = call.graph, call.op
        batch, time, features, units = self._sizes(call)
        ctx = KernelContext()
        ctx.constant("BATCH", batch)
        ctx.constant("TIME", time)
        ctx.constant("INPUT_SIZE", features)
        ctx.constant("UNITS", units)
        ctx.constant("TIME_MAJOR", int(p["time_major"]))
        ctx.constant("INPUT_OFFSET", -p["input_zero_point"], "-(input zero point)")
        ctx.constant("OUTPUT_OFFSET", p["state_zero_point"], "output (hidden state) zero point")
        ctx.constant("OUTPUT_MULT", p["hidden_mult"], "2**-15 * 2**-15 / output scale (Q31)")
        ctx.constant("OUTPUT_SHIFT", p["hidden_shift"])
        ctx.constant("CELL_CLIP", p["cell_clip"], "in cell state units, 0: none")
        ctx.constant("CELL_POWER", p["cell_power"], "log2 of the cell state's scale")
        # The cell update's multipliers as the API holds them (2**-15 and 2**-15 * 2**-15 / cell
        # scale); the kernel divides by the powers of two exactly as TFLite does.
        for name, real in (("FORGET_TO_CELL", 2.0 ** -15), ("INPUT_TO_CELL", 2.0 ** (-30 - p["cell_power"]))):
            mult, shift = quantize_multiplier(real)
            ctx.constant(f"{name}_MULT", mult)
            ctx.constant(f"{name}_SHIFT", shift)
        gates = []
        for g, gate in enumerate(GATES):
            w_x = np.asarray(graph.tensor(op.inputs[INPUT_WEIGHTS + g]).data, dtype=np.int8)
            w_h = np.asarray(graph.tensor(op.inputs[RECURRENT_WEIGHTS + g]).data, dtype=np.int8)
            bias = graph.tensor(op.inputs[BIASES + g]).data if op.inputs[BIASES + g] else None
            b_x, b_h = effective_biases(w_x, w_h, bias, p["input_zero_point"], p["state_zero_point"])
            m_x, s_x, m_h, s_h = p["mults"][g]
            ctx.constant(f"{gate.upper()}_INPUT_MULT", m_x, f"{gate} gate: input scale * weight scale / 2**-12")
            ctx.constant(f"{gate.upper()}_INPUT_SHIFT", s_x)
            ctx.constant(f"{gate.upper()}_HIDDEN_MULT", m_h, f"{gate} gate: state scale * weight scale / 2**-12")
            ctx.constant(f"{gate.upper()}_HIDDEN_SHIFT", s_h)
            ctx.arrays += [CArray(f"{gate}_input_weights", "int8_t", w_x, f"{gate} gate input weights ({units}, {features})"),
                           CArray(f"{gate}_hidden_weights", "int8_t", w_h, f"{gate} gate recurrent weights ({units}, {units})"),
                           CArray(f"{gate}_input_bias", "int32_t", b_x.astype(np.int32),
                                  f"{gate} gate bias - input zero point * weight row sums"),
                           CArray(f"{gate}_hidden_bias", "int32_t", b_h.astype(np.int32),
                                  f"{gate} gate: -state zero point * recurrent weight row sums")]
            gates.append({"name": gate, "upper": gate.upper(), "activation": "ARM_TANH" if gate == "cell" else "ARM_SIGMOID"})
        ctx.fields.update(gates=gates)
        ctx.comment.append(f"LSTM {units} units over {time} steps of {features} features, batch {batch}"
                           + (", time-major" if p["time_major"] else ""))
        return ctx


KERNEL = EdLstmUnidirectionalS8()
