"""Quantization arithmetic on scales and zero points (TFLite's int8 scheme, METHODS.md section 6):
fused activation ranges and per-channel requantization multipliers."""

from __future__ import annotations

import numpy as np

from edge_deploy.numerics.fixedpoint import quantize_multiplier_array, round_half_away

ACTIVATIONS = ("none", "relu", "relu6")


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8: the fused ReLU / ReLU6 clamp.

    Raises ValueError for an activation not in :data:`ACTIVATIONS`.
    """
    def quantize(real: float) -> int:
        return int(zero_point) + round_half_away(float(np.float32(real) / np.float32(scale)))

    if activation == "none":
        return -128, 127
    if activation == "relu":
        return max(-128, quantize(0.0)), 127
    if activation == "relu6":
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")


def requant_multipliers(input_scale: float, weight_scales, output_scale: float,
                        channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(int32 mults, int32 shifts)`` for ``input_scale * weight_scale[c] / output_scale``.

    Products are in double precision in TFLite's order, from float32 scales; a per-tensor
    weight scale (one value) is broadcast to ``channels``.
    """
    w_scales = np.asarray(weight_scales, dtype=np.float32).astype(np.float64).reshape(-1)
    if w_scales.size == 1:
        w_scales = np.full(channels, w_scales[0])
    real = float(np.float32(input_scale)) * w_scales / float(np.float32(output_scale))
    return quantize_multiplier_array(real)
