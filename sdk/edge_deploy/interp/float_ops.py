"""Float32 reference kernels for the float IR (the lowered PyTorch model before quantization).

Same layouts and attributes as the int8 kernels; used to check the lowering against PyTorch and to
collect activation ranges for calibration.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.interp.ops import window_patches

_CLAMP = {"none": (-np.inf, np.inf), "relu": (0.0, np.inf), "relu6": (0.0, 6.0)}


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """Apply a fused activation ("none", "relu" or "relu6")."""
    low, high = _CLAMP[activation]
    return np.clip(x, low, high).astype(np.float32)


def conv2d_f32(x, w, bias, *, stride, padding, dilation, activation="none") -> np.ndarray:
    """CONV_2D in float: NHWC x, OHWI w, bias (O,) or None, explicit (top, bottom, left, right) padding."""
    patches, (oh, ow) = window_patches(x.astype(np.float64), w.shape[1:3], stride, dilation, padding, 0.0)
    out = patches.reshape(x.shape[0] * oh * ow, -1) @ w.astype(np.float64).reshape(w.shape[0], -1).T
    if bias is not None:
        out = out + bias
    return activate(out.reshape(x.shape[0], oh, ow, w.shape[0]), activation)


def depthwise_conv2d_f32(x, w, bias, *, stride, padding, dilation, activation="none") -> np.ndarray:
    """DEPTHWISE_CONV_2D in float (1HWO weights)."""
    patches, _ = window_patches(x.astype(np.float64), w.shape[1:3], stride, dilation, padding, 0.0)
    multiplier = w.shape[3] // x.shape[3]
    if multiplier > 1:
        patches = np.repeat(patches, multiplier, axis=-1)
    out = np.einsum("nhwijo,ijo->nhwo", patches, w[0].astype(np.float64))
    if bias is not None:
        out = out + bias
    return activate(out, activation)


def fully_connected_f32(x, w, bias, *, activation="none") -> np.ndarray:
    """FULLY_CONNECTED in float: x reshaped to ``(-1, in)``."""
    out = x.reshape(-1, w.shape[1]).astype(np.float64) @ w.astype(np.float64).T
    if bias is not None:
        out = out + bias
    return activate(out, activation)


def pool_f32(x, *, kind, filter_hw, stride, padding, activation="none") -> np.ndarray:
    """MAX_POOL_2D / AVERAGE_POOL_2D in float; padding is excluded (TFLite semantics)."""
    if kind == "max_pool2d":
        patches, _ = window_patches(x.astype(np.float64), filter_hw, stride, (1, 1), padding, -np.inf)
        return activate(patches.max(axis=(3, 4)), activation)
    patches, _ = window_patches(x.astype(np.float64), filter_hw, stride, (1, 1), padding, 0.0)
    ones = np.ones((1,) + x.shape[1:3] + (1,))
    counts, _ = window_patches(ones, filter_hw, stride, (1, 1), padding, 0.0)
    return activate(patches.sum(axis=(3, 4)) / counts.sum(axis=(3, 4)), activation)


def softmax_f32(x, *, beta=1.0) -> np.ndarray:
    """SOFTMAX over the last axis in float."""
    z = (x.astype(np.float64) - x.max(axis=-1, keepdims=True)) * beta
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
