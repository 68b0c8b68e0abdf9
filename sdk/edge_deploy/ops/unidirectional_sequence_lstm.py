"""UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's full-integer "8x8->16" LSTM: int8 input, output and
weights, int16 gates and cell state (a power-of-two scale), int32 biases; batch-major
``(batch, time, features)`` or ``time_major``. The output is the hidden state of every step.

The op keeps TFLite's 24 inputs in their positions ("" where the model has none): 0 the input,
1-4 the input weights and 5-8 the recurrent weights of the input, forget, cell and output gates,
9-11 peephole weights, 12-15 the gate biases, 16-17 the projection, 18 the output (hidden) state
and 19 the cell state (TFLite variable tensors: zero at start, carried from one invocation to
the next), 20-23 layer-norm coefficients. Supported: the standard LSTM (Keras' layer): all four
gates, no peephole, projection or layer norm, a tanh cell activation.

The numbers follow TFLite's ``PopulateQuantizedLstmParams8x8_16`` (float32 effective scales
``weight_scale * input_scale / 2**-12``, the hidden scale ``2**-15 / hidden_scale * 2**-15``, the
cell clip truncated to int16) and the step is ``lstm_eval``'s integer path (``ops/_lstm_math.py``),
bit-exact with ai-edge-litert's kernel (double rounding). C: ``ed_lstm_unidirectional_s8`` on
CMSIS-NN's LSTM parameter types (upstream's ``arm_lstm_unidirectional_s8`` interpolates its
activations from a table and, up to v7.0.0, restarts from a zero state at every call, so it does
not match TFLite; see ``kernels/ed_lstm_unidirectional_s8.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.numerics.fixedpoint import quantize_multiplier
from edge_deploy.ops._movement import samples
from edge_deploy.ops._lstm_math import GATES, effective_biases, lstm_step
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

UNIDIRECTIONAL_SEQUENCE_LSTM = 44
UNIDIRECTIONAL_SEQUENCE_LSTM_OPTIONS = 71
ACTIVATION_SLOT, CELL_CLIP_SLOT, PROJ_CLIP_SLOT, TIME_MAJOR_SLOT, ASYMMETRIC_SLOT = 0, 1, 2, 3, 4
TANH = 4  # TFLite's ActivationFunctionType code of the cell activation

INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES = 1, 5, 12  # the first of four, in GATES order
PEEPHOLE, PROJECTION, LAYER_NORM = (9, 10, 11), (16, 17), (20, 21, 22, 23)
OUTPUT_STATE, CELL_STATE = 18, 19
INPUT_COUNT = 24
GATE_SCALE = 2.0 ** -12  # Q3.12: the gates' scale without layer norm


def _non_negative(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 else "must be >= 0"


def unidirectional_sequence_lstm_s8(x: np.ndarray, *args, in_shape: tuple[int, ...], time_major: bool,
                                    input_zero_point: int, state_zero_point: int, mults, cell_power: int, cell_clip: int,
                                    hidden_mult: int, hidden_shift: int, rounding: str = "double",
                                    return_state: bool = False):
    """The LSTM on one input ``(batch, time, in)`` (``(time, batch, in)`` when ``time_major``).

    ``args``: the 8 weight matrices (input then recurrent, gates in input, forget, cell, output
    order), the 4 int32 biases (None for none), then optionally the int8 output state and int16
    cell state ``(batch, units)`` to start from (absent: as TFLite starts, the zero points). Returns the int8 outputs in
    the input's layout, and with ``return_state`` also the final ``(output_state, cell_state)``.
    """
    weights = [(np.asarray(args[g]), np.asarray(args[4 + g])) for g in range(4)]
    biases = [effective_biases(w_x, w_h, args[8 + g], input_zero_point, state_zero_point)
              for g, (w_x, w_h) in enumerate(weights)]
    steps = np.asarray(x, dtype=np.int64).reshape(in_shape)
    steps = steps if time_major else np.swapaxes(steps, 0, 1)  # (time, batch, in)
    units = weights[0][0].shape[0]
    h = np.full((steps.shape[1], units), state_zero_point, np.int64) if len(args) <= 12 or args[12] is None else \
        np.asarray(args[12], dtype=np.int64).reshape(steps.shape[1], units)
    c = np.zeros((steps.shape[1], units), np.int64) if len(args) <= 13 or args[13] is None else \
        np.asarray(args[13], dtype=np.int64).reshape(steps.shape[1], units)
    outputs = []
    for t in range(steps.shape[0]):
        h, c = lstm_step(steps[t], h, c, weights=weights, biases=biases, mults=mults, cell_power=cell_power,
                         cell_clip=cell_clip, hidden_mult=hidden_mult, hidden_shift=hidden_shift,
                         hidden_zero_point=state_zero_point, rounding=rounding)
        outputs.append(h)
    out = np.stack(outputs).astype(np.int8)
    out = out if time_major else np.swapaxes(out, 0, 1)
    return (out, h.astype(np.int8), c.astype(np.int16)) if return_state else out


class UnidirectionalSequenceLstm(OpDef):
    kind = "unidirectional_sequence_lstm"
    reference = staticmethod(unidirectional_sequence_lstm_s8)
    attrs = (Attr("time_major", lambda v: None if isinstance(v, bool) else "must be true or false",
                  required=False, default=False),
             Attr("cell_clip", _non_negative, required=False, default=0.0),
             Attr("proj_clip", _non_negative, required=False, default=0.0))
    arity = (1, INPUT_COUNT)
    # Not rounding-sensitive: measured on tests/data/tflite/lstm.tflite, ai-edge-litert's LSTM
    # rounds twice (its MatrixBatchVectorMultiplyAccumulate and CwiseMul requantize as TFLM
    # does), so both rounding policies run the reference's default, "double".
    tflite_codes = (TfliteCode(UNIDIRECTIONAL_SEQUENCE_LSTM, "UNIDIRECTIONAL_SEQUENCE_LSTM", 1),)
    tflite_data_inputs = INPUT_COUNT
    state_inputs = (OUTPUT_STATE, CELL_STATE)

    # -- structure ------------------------------------------------------------------------------

    def _input(self, graph: Graph, op: Op, position: int):
        name = op.inputs[position] if position < len(op.inputs) else ""
        return graph.tensor(name) if name else None

    def dims(self, graph: Graph, op: Op) -> tuple[int, int, int, int]:
        """``(batch, time, features, units)``."""
        shape = tuple(graph.tensor(op.inputs[0]).shape)
        if len(shape) != 3:
            raise op_error(op, f"input {shape} must be 3-D (batch, time, features)")
        time, batch = (shape[0], shape[1]) if op.attrs.get("time_major") else (shape[1], shape[0])
        return batch, time, shape[2], graph.tensor(op.inputs[INPUT_WEIGHTS]).shape[0]

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        if len(op.inputs) != INPUT_COUNT:
            raise op_error(op, f"has {len(op.inputs)} inputs; TFLite's LSTM has {INPUT_COUNT}")
        unsupported = [(p, what) for group, what in ((PEEPHOLE, "peephole"), (PROJECTION, "projection"),
                                                     (LAYER_NORM, "layer norm")) for p in group if op.inputs[p]]
        if unsupported:
            raise op_error(op, f"uses {unsupported[0][1]} weights (input {unsupported[0][0]}); only the standard "
                               "LSTM (no peephole, projection or layer norm) is supported",
                           "convert a plain Keras LSTM layer")
        missing = [p for p in (*range(1, 9), OUTPUT_STATE, CELL_STATE) if not op.inputs[p]]
        if missing:
            raise op_error(op, f"lacks input {missing[0]} (CIFG, without an input gate, is not supported)")
        batch, time, features, units = self.dims(graph, op)
        for g in range(4):
            w_x = graph.tensor(op.inputs[INPUT_WEIGHTS + g]).shape
            w_h = graph.tensor(op.inputs[RECURRENT_WEIGHTS + g]).shape
            if tuple(w_x) != (units, features) or tuple(w_h) != (units, units):
                raise op_error(op, f"{GATES[g]} gate weights {tuple(w_x)} and {tuple(w_h)} do not fit input "
                                   f"features {features} and {units} units")
            bias = self._input(graph, op, BIASES + g)
            if bias is not None and int(np.prod(bias.shape)) != units:
                raise op_error(op, f"{GATES[g]} gate bias '{bias.name}' has shape {bias.shape}, expected {units}")
        for position in (OUTPUT_STATE, CELL_STATE):
            state = graph.tensor(op.inputs[position])
            if int(np.prod(state.shape)) != batch * units:
                raise op_error(op, f"state '{state.name}' has shape {state.shape}, expected ({batch}, {units})")
        shape = graph.tensor(op.inputs[0]).shape
        return (shape[0], shape[1], units)

    def macs(self, graph: Graph, op: Op) -> int:
        batch, time, features, units = self.dims(graph, op)
        return batch * time * 4 * units * (features + units)

    # -- int8 -----------------------------------------------------------------------------------

    def check_quantized(self, graph: Graph, op: Op) -> None:
        for g in range(4):
            for position in (INPUT_WEIGHTS + g, RECURRENT_WEIGHTS + g):
                w = graph.tensor(op.inputs[position])
                if w.dtype != "int8" or not w.is_constant or w.quant is None or w.quant.scale.size != 1 \
                        or w.zero_point != 0:
                    raise op_error(op, f"weights '{w.name}' must be constant int8, one scale, zero point 0")
            bias = self._input(graph, op, BIASES + g)
            if bias is not None and (bias.dtype != "int32" or not bias.is_constant):
                raise op_error(op, f"bias '{bias.name}' must be a constant int32 tensor")
        h, c = graph.tensor(op.inputs[OUTPUT_STATE]), graph.tensor(op.inputs[CELL_STATE])
        y = graph.tensor(op.outputs[0])
        if h.dtype != "int8" or h.quant is None or (h.scale, h.zero_point) != (y.scale, y.zero_point):
            raise op_error(op, f"output state '{h.name}' must be int8 quantized as the output '{y.name}'")
        if c.dtype != "int16" or c.quant is None or c.zero_point != 0 or not _power_of_two(c.scale):
            raise op_error(op, f"cell state '{c.name}' must be int16 with a power-of-two scale and zero point 0",
                           "convert with full-integer quantization (TFLite's 8x8->16 LSTM)")
        if not -15 <= _log2(c.scale) <= -10:  # the cell's tanh takes 15 + log2(scale) integer bits, 0..5
            raise op_error(op, f"cell state '{c.name}' has scale 2**{_log2(c.scale)}; supported: 2**-15 .. 2**-10")
        if op.attrs.get("proj_clip"):
            raise op_error(op, "has a projection clip but no projection")

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x = graph.tensor(op.inputs[0])
        h, c = graph.tensor(op.inputs[OUTPUT_STATE]), graph.tensor(op.inputs[CELL_STATE])
        f32 = np.float32
        mults = []
        for g in range(4):
            w_x = graph.tensor(op.inputs[INPUT_WEIGHTS + g]).scale
            w_h = graph.tensor(op.inputs[RECURRENT_WEIGHTS + g]).scale
            # float32, in TFLite's order: weight_scale * input_scale / intermediate_scale.
            effective_x = f32(f32(w_x) * f32(x.scale)) / f32(GATE_SCALE)
            effective_h = f32(f32(w_h) * f32(h.scale)) / f32(GATE_SCALE)
            mults.append(quantize_multiplier(float(effective_x)) + quantize_multiplier(float(effective_h)))
        # Without a projection the hidden state is the output state: its scale is the hidden one.
        hidden = f32(f32(f32(2.0 ** -15) / f32(h.scale)) * f32(2.0 ** -15))
        hidden_mult, hidden_shift = quantize_multiplier(float(hidden))
        cell_clip = float(op.attrs.get("cell_clip", 0.0))
        clip = int(min(max(f32(cell_clip) / f32(c.scale), -32768.0), 32767.0)) if cell_clip > 0 else 0
        return {"in_shape": tuple(int(d) for d in x.shape), "time_major": bool(op.attrs.get("time_major", False)),
                "input_zero_point": x.zero_point, "state_zero_point": h.zero_point, "mults": tuple(mults), "cell_power": _log2(c.scale),
                "cell_clip": clip, "hidden_mult": hidden_mult, "hidden_shift": hidden_shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        """The batch's samples one after the other, each continuing from the state the one before
        left; the output and cell state arrays (inputs 18 and 19, the variable tensors' current
        values) are updated in place (None: start from zero and keep nothing)."""
        constants = [*args[INPUT_WEIGHTS:RECURRENT_WEIGHTS + 4], *args[BIASES:BIASES + 4]]
        h, c = args[OUTPUT_STATE], args[CELL_STATE]
        outs = []
        for sample in samples(args[0], params["in_shape"]):
            out, new_h, new_c = unidirectional_sequence_lstm_s8(sample, *constants, h, c, **params, return_state=True)
            outs.append(out)
            if h is not None:
                h[...] = new_h.reshape(h.shape)
                c[...] = new_c.reshape(c.shape)
            else:
                h, c = new_h, new_c
        return np.stack(outs)

    def random_layer(self, rng: np.random.Generator, layer: dict[str, Any], activation_quant):
        """A random LSTM layer for kernel tests and the cost calibration: ``layer["lstm"]`` is
        ``(batch, time, features, units)``, ``time_major`` optional; ``activation_quant()``
        draws an int8 activation's quantization. Returns ``(graph, op, data)``, the data of the
        input and of a random state to start from (the variable tensors' values)."""
        batch, time, features, units = layer["lstm"]
        time_major = bool(layer.get("time_major", False))
        cell_power = int(layer.get("cell_power", -14))
        shape = (time, batch, features) if time_major else (batch, time, features)
        tensors = {"in0": Tensor("in0", shape, "int8", activation_quant())}
        names = ["in0"] + [""] * (INPUT_COUNT - 1)
        state_quant = activation_quant()
        for g, gate in enumerate(GATES):
            for position, cols in ((INPUT_WEIGHTS + g, features), (RECURRENT_WEIGHTS + g, units)):
                name = f"w{position}"
                tensors[name] = Tensor(name, (units, cols), "int8",
                                       QuantParams([float(rng.uniform(0.002, 0.02))], [0]),
                                       rng.integers(-127, 128, (units, cols), dtype=np.int8))
                names[position] = name
            name = f"{gate}_bias"
            tensors[name] = Tensor(name, (units,), "int32", QuantParams([1e-5], [0]),
                                   rng.integers(-30000, 30000, units).astype(np.int32))
            names[BIASES + g] = name
        tensors["state"] = Tensor("state", (batch, units), "int8", state_quant, variable=True)
        tensors["cell"] = Tensor("cell", (batch, units), "int16", QuantParams([2.0 ** cell_power], [0]), variable=True)
        names[OUTPUT_STATE], names[CELL_STATE] = "state", "cell"
        tensors["out"] = Tensor("out", (), "int8", state_quant)
        op = Op(self.kind, "op", names, ["out"], {"time_major": time_major,
                                                  "cell_clip": float(layer.get("cell_clip", 0.0))})
        graph = Graph("lstm", tensors, [op], ["in0"], ["out"])
        tensors["out"].shape = self.output_shape(graph, op)
        data = {"in0": rng.integers(-128, 128, shape, dtype=np.int8),
                "state": rng.integers(-128, 128, (batch, units), dtype=np.int8),
                "cell": rng.integers(-(1 << 14), 1 << 14, (batch, units)).astype(np.int16)}
        return graph, op, data

    # -- .tflite --------------------------------------------------------------------------------

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != INPUT_COUNT:
            raise reader.error(f"(UNIDIRECTIONAL_SEQUENCE_LSTM) has {len(reader.inputs)} inputs, expected "
                               f"{INPUT_COUNT}")
        activation = int(reader.option(ACTIVATION_SLOT, "<b", 0))
        if activation != TANH:
            raise reader.error(f"(UNIDIRECTIONAL_SEQUENCE_LSTM) has cell activation code {activation}; "
                               "only tanh (4) is supported")
        if reader.option(ASYMMETRIC_SLOT, "<?", False):
            raise reader.error("(UNIDIRECTIONAL_SEQUENCE_LSTM) is a hybrid LSTM (float activations); "
                               "only the full-integer one is supported")
        return {"time_major": bool(reader.option(TIME_MAJOR_SLOT, "<?", False)),
                "cell_clip": float(reader.option(CELL_CLIP_SLOT, "<f", 0.0)),
                "proj_clip": float(reader.option(PROJ_CLIP_SLOT, "<f", 0.0))}

    def tflite_intermediates(self, graph: Graph, op: Op) -> list[tuple[str, str, QuantParams | None]]:
        """TFLite's integer LSTM wants five: the four gates' (unquantized without layer norm:
        Q3.12) and the hidden state's, quantized as the output state (no projection)."""
        gates = [(f"{gate}_intermediate", "float32", None) for gate in GATES]
        return gates + [("effective_hidden_scale_intermediate", "int8", graph.tensor(op.inputs[OUTPUT_STATE]).quant)]

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(UNIDIRECTIONAL_SEQUENCE_LSTM_OPTIONS,
                            [(ACTIVATION_SLOT, "i8", TANH),
                             (CELL_CLIP_SLOT, "f32", float(op.attrs.get("cell_clip", 0.0))),
                             (PROJ_CLIP_SLOT, "f32", float(op.attrs.get("proj_clip", 0.0))),
                             (TIME_MAJOR_SLOT, "bool", bool(op.attrs.get("time_major", False)))])


def _log2(scale: float) -> int:
    return int(round(math.log2(float(scale))))


def _power_of_two(scale: float) -> bool:
    return float(scale) > 0 and 2.0 ** _log2(scale) == float(np.float32(scale))


OP = UnidirectionalSequenceLstm()
