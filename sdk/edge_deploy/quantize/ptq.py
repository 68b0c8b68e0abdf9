"""Post-training int8 quantization of a float IR graph, following the TFLite int8 specification.

Weights: symmetric per output channel, int8 in [-127, 127], zero point 0 (axis 0 of OHWI and
(out, in) weights, axis 3 of 1HWO depthwise weights). Activations: asymmetric per tensor, int8 with
a zero point, the range always containing 0. Bias: int32 with scale ``input_scale * weight_scale``
and zero point 0. Ranges come from running the float graph on calibration data (min/max, or a
percentile of the values). Ops that TFLite requires to keep their input's quantization (pooling,
reshape, pad) do; softmax outputs use scale 1/256 and zero point -128: each op module's
``output_quant`` says which rule applies to it. An activation-pruning
``act_threshold`` (float) becomes the smallest int8 output kept (see :func:`int8_threshold`).
"""

from __future__ import annotations

import math

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run_graph
from edge_deploy.ir.graph import Graph, QuantParams
from edge_deploy.numerics.fixedpoint import round_half_away
from edge_deploy.ops import get_op, validate


def activation_quant(low: float, high: float) -> QuantParams:
    """Asymmetric int8 parameters for the real range ``[low, high]`` (widened to contain 0)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low < 1e-12:
        high = low + 1e-6
    scale = np.float32((high - low) / 255.0)
    zero_point = int(np.clip(-128 - round_half_away(low / float(scale)), -128, 127))
    return QuantParams([scale], [zero_point])


def int8_threshold(threshold: float, quant: QuantParams) -> int:
    """Int8 form of a float activation-pruning threshold for an output quantized with ``quant``:
    the smallest ``q`` whose real value ``scale * (q - zero_point)`` is above ``threshold`` (the
    float rule keeps ``x > threshold``), clamped to [-128, 127]."""
    steps = math.floor(float(threshold) / float(np.float32(quant.scale[0])))
    return int(np.clip(steps + 1 + int(quant.zero_point[0]), -128, 127))


def calibrate(graph: Graph, calibration: np.ndarray, method: str = "minmax", percentile: float = 99.99) -> dict[str, tuple[float, float]]:
    """Run the float ``graph`` on ``calibration`` (an IR-layout batch) and return each
    activation's ``(low, high)`` range: the min / max, or the ``percentile`` / ``100 - percentile``
    values with ``method="percentile"``. Raises EdgeDeployError for an unknown method."""
    if method not in ("minmax", "percentile"):
        raise EdgeDeployError(f"unknown calibration method {method!r}", "use 'minmax' or 'percentile'")
    values = run_graph(graph, calibration.astype(np.float32), keep_all=True)
    ranges = {}
    for name, v in values.items():
        if method == "minmax":
            ranges[name] = (float(v.min()), float(v.max()))
        else:
            ranges[name] = (float(np.percentile(v, 100.0 - percentile)), float(np.percentile(v, percentile)))
    return ranges


def quantize_weights(w: np.ndarray, axis: int) -> tuple[np.ndarray, QuantParams]:
    """Symmetric per-channel int8 weights along ``axis``: returns ``(int8 data, QuantParams)``."""
    moved = np.moveaxis(w.astype(np.float64), axis, 0)
    max_abs = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scales = np.float32(np.where(max_abs > 0, max_abs / 127.0, 1e-8))
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.astype(np.float64).reshape(shape)), -127, 127).astype(np.int8)
    return q, QuantParams(scales, np.zeros(scales.size), axis)


def quantize_graph(graph: Graph, calibration: np.ndarray, *, method: str = "minmax", percentile: float = 99.99) -> Graph:
    """Return an int8 copy of the float ``graph``, calibrated on ``calibration``.

    ``calibration`` is a float32 batch in IR layout (``(N, *input_shape[1:])``). Raises
    EdgeDeployError if the graph is already quantized or calibration fails.
    """
    if graph.is_quantized:
        raise EdgeDeployError(f"graph '{graph.name}' is already int8")
    ranges = calibrate(graph, calibration, method, percentile)
    q = graph.copy()
    for name in q.inputs:
        q.tensors[name].quant = activation_quant(*ranges[name])
    for op in q.ops:
        definition = get_op(op)
        x, out = q.tensor(op.inputs[0]), q.tensor(op.outputs[0])
        out.quant = definition.output_quant(q, op, ranges, activation_quant)
        if definition.weight_axis is not None:
            w = q.tensor(op.inputs[1])
            w.data, w.quant = quantize_weights(w.data, definition.weight_axis)
            w.dtype = "int8"
            if len(op.inputs) > 2 and op.inputs[2]:
                b = q.tensor(op.inputs[2])
                bias_scale = np.float32(x.quant.scale[0]) * w.quant.scale  # float32 product, as TFLite
                b.data = np.clip(np.round(b.data.astype(np.float64) / bias_scale), -(2**31), 2**31 - 1).astype(np.int32)
                b.quant = QuantParams(bias_scale, np.zeros(bias_scale.size), 0)
                b.dtype = "int32"
        if definition.constant_operands:
            _quantize_constant_operands(q, op)
        if "act_threshold" in op.attrs:
            op.attrs["act_threshold"] = int8_threshold(op.attrs["act_threshold"], out.quant)
        definition.quantize_attrs(op)
        out.dtype = "int8"
    for name in q.inputs:
        q.tensors[name].dtype = "int8"
    return validate(q)


def _quantize_constant_operands(graph: Graph, op) -> None:
    """A float constant operand of an op that takes them (ADD 3, MUL by 1/6 ...) becomes int8 per
    tensor over its own range (0 included), as TensorFlow's converter quantizes it."""
    for name in op.inputs:
        t = graph.tensor(name)
        if t.data is None or t.dtype != "float32":
            continue
        t.quant = activation_quant(float(t.data.min()), float(t.data.max()))
        scaled = t.data.astype(np.float64) / float(t.quant.scale[0])
        q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + int(t.quant.zero_point[0])  # halves away from 0
        t.data, t.dtype = np.clip(q, -128, 127).astype(np.int8), "int8"


def quantize_input(x: np.ndarray, quant: QuantParams) -> np.ndarray:
    """Quantize a float batch with a tensor's parameters: ``round(x / scale) + zero_point``, saturated."""
    q = np.round(np.asarray(x, dtype=np.float64) / float(quant.scale[0])) + int(quant.zero_point[0])
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, quant: QuantParams) -> np.ndarray:
    """Real values of an int8 batch: ``scale * (q - zero_point)``."""
    return (np.asarray(q, dtype=np.float32) - np.float32(quant.zero_point[0])) * np.float32(quant.scale[0])
