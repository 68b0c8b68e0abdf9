"""Kernel arguments for each int8 op, derived from the IR's quantization exactly as TFLite does.

``kernel_params(graph, op)`` returns the keyword arguments of the matching reference function in
:mod:`edge_deploy.interp.ops` (``conv2d`` -> ``conv2d_s8`` and so on): offsets, per-channel
multipliers and shifts, activation range, explicit padding. The code generator uses the same
dictionary, so the C kernels and the reference interpreter are fed identical numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.ops import compute_padding, mean_multiplier
from edge_deploy.interp.softmax import softmax_params
from edge_deploy.ir.graph import Graph, Op, Tensor
from edge_deploy.quantize.fixedpoint import quantize_multiplier, quantize_multiplier_array

# The reference function in edge_deploy.interp.ops for each op kind (reshape has none: a copy).
KERNEL_FUNCTIONS = {
    "conv2d": "conv2d_s8",
    "depthwise_conv2d": "depthwise_conv2d_s8",
    "fully_connected": "fully_connected_s8",
    "max_pool2d": "max_pool_s8",
    "avg_pool2d": "avg_pool_s8",
    "add": "add_s8",
    "softmax": "softmax_s8",
    "pad": "pad_s8",
    "mean": "mean_s8",
}

ADD_LEFT_SHIFT = 20  # TFLite's headroom shift for int8 ADD


def _round_half_away(value: float) -> int:
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8: the fused ReLU / ReLU6 clamp."""
    def quantize(real: float) -> int:
        return int(zero_point) + _round_half_away(float(np.float32(real) / np.float32(scale)))

    if activation == "none":
        return -128, 127
    if activation == "relu":
        return max(-128, quantize(0.0)), 127
    if activation == "relu6":
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    raise EdgeDeployError(f"unknown activation {activation!r}")


def requant_multipliers(x: Tensor, w: Tensor, y: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(int32 mults, int32 shifts)`` for ``in_scale * w_scale[c] / out_scale``.

    Products are in double precision in TFLite's order; a per-tensor weight scale is broadcast.
    """
    w_scales = w.quant.scale.astype(np.float64)
    if w_scales.size == 1:
        w_scales = np.full(channels, w_scales[0])
    real = float(np.float32(x.scale)) * w_scales / float(np.float32(y.scale))
    return quantize_multiplier_array(real)


def explicit_padding(graph: Graph, op: Op) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` padding for a windowed op from its SAME / VALID mode."""
    x = graph.tensor(op.inputs[0]).shape
    if op.kind in ("max_pool2d", "avg_pool2d"):
        filter_hw, dilation = tuple(op.attrs["filter"]), (1, 1)
    else:
        w = graph.tensor(op.inputs[1]).shape
        filter_hw, dilation = (w[1], w[2]), tuple(op.attrs["dilation"])
    pads, _ = compute_padding(x[1:3], filter_hw, tuple(op.attrs["stride"]), dilation, op.attrs["padding"])
    return pads


def mean_axes(graph: Graph, op: Op) -> tuple[int, ...]:
    """A MEAN op's reduced axes, as TFLite resolves them: negatives wrapped, duplicates dropped, sorted."""
    rank = len(graph.tensor(op.inputs[0]).shape)
    return tuple(sorted({int(ax) % rank for ax in op.attrs["axis"]}))


def kernel_params(graph: Graph, op: Op) -> dict[str, Any]:
    """Keyword arguments of ``edge_deploy.interp.ops.<KERNEL_FUNCTIONS[op.kind]>`` for ``op``.

    Excludes the tensors themselves and ``rounding``. Raises EdgeDeployError for a non-int8 op.
    """
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.quant is None or y.quant is None:
        raise EdgeDeployError(f"op '{op.name}' ({op.kind}) is not quantized", "quantize the graph first")
    a = op.attrs
    if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
        w = graph.tensor(op.inputs[1])
        channels = y.shape[-1]
        mults, shifts = requant_multipliers(x, w, y, channels)
        act_min, act_max = activation_range(a.get("activation", "none"), y.scale, y.zero_point)
        params: dict[str, Any] = {
            "input_offset": -x.zero_point,
            "output_offset": y.zero_point,
            "out_mult": mults,
            "out_shift": shifts,
            "act_min": act_min,
            "act_max": act_max,
        }
        if op.kind == "fully_connected":
            params["filter_offset"] = -w.zero_point
        else:
            params.update(stride=tuple(a["stride"]), dilation=tuple(a["dilation"]), padding=explicit_padding(graph, op))
        return params
    if op.kind in ("max_pool2d", "avg_pool2d"):
        act_min, act_max = activation_range(a.get("activation", "none"), y.scale, y.zero_point)
        return {
            "filter_hw": tuple(a["filter"]),
            "stride": tuple(a["stride"]),
            "padding": explicit_padding(graph, op),
            "act_min": act_min,
            "act_max": act_max,
        }
    if op.kind == "add":
        b = graph.tensor(op.inputs[1])
        twice_max = 2.0 * float(max(np.float32(x.scale), np.float32(b.scale)))
        m1, s1 = quantize_multiplier(float(np.float32(x.scale)) / twice_max)
        m2, s2 = quantize_multiplier(float(np.float32(b.scale)) / twice_max)
        mo, so = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * float(np.float32(y.scale))))
        act_min, act_max = activation_range(a.get("activation", "none"), y.scale, y.zero_point)
        return {
            "input1_offset": -x.zero_point, "input1_mult": m1, "input1_shift": s1,
            "input2_offset": -b.zero_point, "input2_mult": m2, "input2_shift": s2,
            "left_shift": ADD_LEFT_SHIFT,
            "output_offset": y.zero_point, "out_mult": mo, "out_shift": so,
            "act_min": act_min, "act_max": act_max,
        }
    if op.kind == "softmax":
        mult, left_shift, diff_min = softmax_params(float(np.float32(a.get("beta", 1.0))), float(np.float32(x.scale)))
        return {"input_mult": mult, "input_left_shift": left_shift, "diff_min": diff_min}
    if op.kind == "pad":
        value = a.get("pad_value")
        return {"paddings": [tuple(p) for p in a["paddings"]], "pad_value": y.zero_point if value is None else int(value)}
    if op.kind == "mean":
        axes = mean_axes(graph, op)
        count = int(np.prod([x.shape[ax] for ax in axes]))
        mult, shift = mean_multiplier(*quantize_multiplier(float(np.float32(x.scale)) / float(np.float32(y.scale))), count)
        return {"in_shape": tuple(x.shape), "axis": axes, "input_offset": -x.zero_point,
                "output_offset": y.zero_point, "out_mult": mult, "out_shift": shift}
    if op.kind == "reshape":
        return {"shape": tuple(y.shape)}
    raise EdgeDeployError(f"op '{op.name}': no int8 kernel for kind '{op.kind}'")
