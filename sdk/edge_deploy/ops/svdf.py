"""SVDF: a fully connected layer factored in time (TFLite's SVDF, keyword spotting models). Each
of the ``filters`` rows of ``weights_feature`` turns the input frame into one int16 value that
enters the filter's memory of the last ``memory`` values (the op's state, a variable tensor);
each filter's memory is weighed by its row of ``weights_time``, ``rank`` filters summed per unit,
plus the bias. C API: ``arm_svdf_state_s16_s8`` (int16 state, int16 time weights).

int8 arithmetic, as TFLite's reference ``EvalIntegerSVDF`` and TFLM (with or without CMSIS-NN):

1. the state moves left by one value (the whole buffer, one ``memmove``);
2. per filter, the dot product of its int8 weights with ``input - input zero point`` is
   requantized by ``input scale * weights_feature scale / state scale`` (float32 arithmetic,
   then TFLite's QuantizeMultiplier) and clamped to int16: the filter's newest state value;
3. per filter, the int32 dot product of its time weights with its memory;
4. per unit, the bias plus the ``rank`` filter sums, requantized by ``state scale *
   weights_time scale / output scale``, plus the output zero point, clamped to int8.

The fused activation is read and written but, as in TFLite's and TFLM's int8 kernels, not
applied: TFLite requires RELU on an int8 SVDF and clamps to the int8 range only. The state is
symmetric int16 (zero point 0) and starts at zero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier, wrap_int32
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops._unary import checked_multiplier
from edge_deploy.ops.base import _SMALLEST_SCALE, ACTIVATION, Attr, OpDef, TfliteCode, op_error

SVDF = 27
SVDF_OPTIONS = 6
RANK_SLOT, ACTIVATION_SLOT, ASYMMETRIC_SLOT = 0, 1, 2
# IR inputs: x, weights_feature, weights_time, state, bias (optional, last); TFLite puts the bias
# before the state.
X, FEATURE, TIME, STATE, BIAS = 0, 1, 2, 3, 4
TFLITE_POSITIONS = (0, 1, 2, 4, 3)


def _rank(value: Any) -> str | None:
    return None if isinstance(value, (int, np.integer)) and value >= 1 else f"must be an integer >= 1, got {value!r}"


def svdf_s8(x: np.ndarray, weights_feature: np.ndarray, weights_time: np.ndarray, state: np.ndarray,
            bias: np.ndarray | None, *, rank: int, input_zero_point: int, output_zero_point: int,
            in_mult: int, in_shift: int, out_mult: int, out_shift: int, rounding: str = "double") -> np.ndarray:
    """SVDF, int8 with int16 state (``arm_svdf_state_s16_s8``): ``x`` ``(batch, input)``,
    ``weights_feature`` ``(filters, input)`` int8, ``weights_time`` ``(filters, memory)`` int16,
    ``state`` ``(batch, filters * memory)`` int16, updated in place (each filter's memory
    contiguous, oldest first), ``bias`` ``(filters // rank,)`` int32 or None.

    Returns ``(batch, filters // rank)`` int8. Raises ValueError when the shapes disagree.
    """
    filters, memory = weights_time.shape
    batch = x.shape[0]
    if weights_feature.shape != (filters, x.shape[1]) or filters % rank or state.shape != (batch, filters * memory):
        raise ValueError(f"svdf_s8: input {x.shape}, weights {weights_feature.shape} / {weights_time.shape}, "
                         f"state {state.shape} and rank {rank} do not fit")
    flat = state.reshape(-1)  # a view: the state is updated in place
    flat[:-1] = flat[1:].copy()
    feature = (x.astype(np.int64) - int(input_zero_point)) @ weights_feature.astype(np.int64).T
    newest = np.clip(multiply_by_quantized_multiplier(wrap_int32(feature), in_mult, in_shift, rounding),
                     -32768, 32767)
    memories = flat.reshape(batch, filters, memory)
    memories[:, :, -1] = newest.astype(np.int16)
    per_filter = wrap_int32(np.einsum("bfm,fm->bf", memories.astype(np.int64), weights_time.astype(np.int64)))
    units = per_filter.reshape(batch, filters // rank, rank).sum(axis=2)
    if bias is not None:
        units = units + np.asarray(bias, dtype=np.int64).reshape(-1)
    scaled = multiply_by_quantized_multiplier(wrap_int32(units), out_mult, out_shift, rounding)
    return np.clip(scaled + int(output_zero_point), -128, 127).astype(np.int8)


def _scale(value) -> np.float32:
    return np.float32(value)


class Svdf(OpDef):
    kind = "svdf"
    reference = staticmethod(svdf_s8)
    attrs = (Attr("rank", _rank), ACTIVATION)
    arity = (4, 5)
    state_inputs = (STATE,)
    rounding_sensitive = True
    tflite_codes = (TfliteCode(SVDF, "SVDF", 3),)  # version 3: full-integer SVDF
    tflite_data_inputs = 5

    def _parts(self, graph: Graph, op: Op):
        x, wf, wt, state = (graph.tensor(n) for n in op.inputs[:4])
        bias = graph.tensor(op.inputs[BIAS]) if len(op.inputs) > BIAS and op.inputs[BIAS] else None
        return x, wf, wt, state, bias

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        x, wf, wt, state, bias = self._parts(graph, op)
        if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
            raise op_error(op, f"input {x.shape}, weights_feature {wf.shape} and weights_time {wt.shape} must be 2-D")
        filters, memory = wt.shape
        rank = int(op.attrs["rank"])
        if wf.shape != (filters, x.shape[1]):
            raise op_error(op, f"weights_feature {wf.shape} must be (filters {filters}, input {x.shape[1]})")
        if filters % rank:
            raise op_error(op, f"{filters} filters are not a multiple of rank {rank}")
        if tuple(state.shape) != (x.shape[0], filters * memory):
            raise op_error(op, f"state '{state.name}' has shape {state.shape}, expected "
                               f"{(x.shape[0], filters * memory)} (batch, filters x memory)")
        if bias is not None and int(np.prod(bias.shape)) != filters // rank:
            raise op_error(op, f"bias '{bias.name}' has shape {bias.shape}, expected {filters // rank} values")
        return (x.shape[0], filters // rank)

    def macs(self, graph: Graph, op: Op) -> int:
        x, wf, wt, _, _ = self._parts(graph, op)
        return x.shape[0] * (wf.shape[0] * wf.shape[1] + wt.shape[0] * wt.shape[1])

    def check_quantized(self, graph: Graph, op: Op) -> None:
        x, wf, wt, state, bias = self._parts(graph, op)
        for t, dtype in ((wf, "int8"), (wt, "int16")):
            if t.dtype != dtype or not t.is_constant or t.quant is None or t.quant.per_channel or t.zero_point:
                raise op_error(op, f"{'weights_feature' if t is wf else 'weights_time'} '{t.name}' must be a constant "
                                   f"{dtype} tensor with one scale and zero point 0")
        if state.dtype != "int16" or state.quant is None or state.quant.per_channel or state.zero_point:
            raise op_error(op, f"state '{state.name}' must be int16 with one scale and zero point 0",
                           "edge-deploy runs the int8 SVDF with int16 state (arm_svdf_state_s16_s8)")
        if bias is not None and (bias.dtype != "int32" or not bias.is_constant):
            raise op_error(op, f"bias '{bias.name}' must be a constant int32 tensor")
        for t in (wf, wt, state):
            if not (math.isfinite(t.scale) and t.scale >= _SMALLEST_SCALE):
                raise op_error(op, f"'{t.name}' has scale {t.scale}; a scale must be a finite, normal float32 > 0",
                               "the tensor scales are corrupt; convert the model again")
        self.kernel_params(graph, op)  # both multipliers representable

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, wf, wt, state, _ = self._parts(graph, op)
        y = graph.tensor(op.outputs[0])
        # TFLite and TFLM multiply and divide the float32 scales in float32, then widen.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            feature = float(_scale(x.scale) * _scale(wf.scale) / _scale(state.scale))
            time = float(_scale(state.scale) * _scale(wt.scale) / _scale(y.scale))
        in_mult, in_shift = checked_multiplier(op, feature, "feature (input x weights_feature / state)")
        out_mult, out_shift = checked_multiplier(op, time, "output (state x weights_time / output)")
        return {"rank": int(op.attrs["rank"]), "input_zero_point": x.zero_point, "output_zero_point": y.zero_point,
                "in_mult": in_mult, "in_shift": in_shift, "out_mult": out_mult, "out_shift": out_shift}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        bias = args[BIAS] if len(args) > BIAS else None
        return svdf_s8(args[X], args[FEATURE], args[TIME], args[STATE], bias, **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        x, wf, wt, state = (np.asarray(a) for a in args[:4])
        bias = args[BIAS] if len(args) > BIAS else None
        filters, memory = wt.shape
        flat = state.reshape(-1)
        flat[:-1] = flat[1:].copy()
        memories = flat.reshape(x.shape[0], filters, memory)
        memories[:, :, -1] = x.astype(np.float64) @ wf.astype(np.float64).T
        units = np.einsum("bfm,fm->bf", memories, wt).reshape(x.shape[0], -1, int(op.attrs["rank"])).sum(axis=2)
        if bias is not None:
            units = units + bias
        return clamp_activation(units, op.attrs["activation"])

    # -- .tflite ------------------------------------------------------------------------------------

    def tflite_data_positions(self, code: int, count: int) -> list[int]:
        return [p for p in TFLITE_POSITIONS if p < count]

    def tflite_input_order(self, data: list[int], extra: list[int]) -> list[int]:
        bias = data[BIAS] if len(data) > BIAS else -1
        return [data[X], data[FEATURE], data[TIME], bias, data[STATE]]

    def from_tflite(self, code: int, reader) -> dict[str, Any]:
        if len(reader.inputs) != 5:
            raise reader.error(f"(SVDF) has {len(reader.inputs)} inputs; SVDF takes 5 (input, weights_feature, "
                               "weights_time, bias, activation_state)")
        if reader.inputs[4] < 0:
            raise reader.error("(SVDF) lacks its activation state (input 4)")
        return {"rank": int(reader.option(RANK_SLOT, "<i", 0)), "activation": reader.activation(ACTIVATION_SLOT)}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(SVDF_OPTIONS, [(RANK_SLOT, "i32", op.attrs["rank"]),
                                           (ACTIVATION_SLOT, "activation", op.attrs["activation"]),
                                           (ASYMMETRIC_SLOT, "bool", False)], slots=3)

    def build(self, builder, x, name, weights_feature, weights_time, state, bias=None, *, rank, activation="relu",
              quant=None) -> str:
        """SVDF of ``x`` with the names of its constant weights, its variable state and bias
        (tensors the caller added: ``builder.constant`` and ``builder.variable``)."""
        ins = [x, weights_feature, weights_time, state] + ([bias] if bias else [])
        return builder.op(self.kind, name, ins, {"rank": int(rank), "activation": activation}, quant)


OP = Svdf()
