"""AVERAGE_POOL_2D: the mean over the in-bounds part of each window (padding is not counted),
rounded half away from zero, fused ReLU / ReLU6; the output keeps the input's quantization.
C API: ``arm_avgpool_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import saturate
from edge_deploy.numerics.windows import Padding, window_patches
from edge_deploy.ops._pool import Pool2d
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops.base import TfliteCode


def _window_sums(x: np.ndarray, filter_hw, stride, padding, dtype):
    patches, _ = window_patches(x, filter_hw, stride, (1, 1), padding, pad_value=0)
    ones = np.ones((1,) + x.shape[1:3] + (1,), dtype=dtype)
    counts, _ = window_patches(ones, filter_hw, stride, (1, 1), padding, pad_value=0)
    return patches.sum(axis=(3, 4)), counts.sum(axis=(3, 4))


def avg_pool_s8(x: np.ndarray, *, filter_hw: tuple[int, int], stride: tuple[int, int],
                padding: Padding = (0, 0, 0, 0), act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """AVERAGE_POOL_2D, int8 (``arm_avgpool_s8``): in-bounds mean, rounded half away from zero.

    Padding is excluded from the count, as in TFLite.
    """
    total, count = _window_sums(x, filter_hw, stride, padding, np.int64)
    # C: acc > 0 ? (acc + n/2) / n : (acc - n/2) / n, with '/' truncating toward zero.
    half = count // 2
    rounded = np.where(total > 0, (total + half) // count, -((-total + half) // count))
    return saturate(rounded, act_min, act_max)


class AvgPool2d(Pool2d):
    kind = "avg_pool2d"
    reference = staticmethod(avg_pool_s8)
    tflite_codes = (TfliteCode(1, "AVERAGE_POOL_2D", 2),)
    torch_modules = ("AvgPool1d", "AvgPool2d")
    aten_targets = ("avg_pool1d", "avg_pool2d")

    def padded_window(self, count_include_pad: bool) -> tuple[bool, float | None]:
        """With ``count_include_pad`` (PyTorch's default) padded zeros count in the mean: a PAD with
        zeros before a VALID pool; without, SAME (which counts only the input's positions) where
        it pads alike, and nothing else."""
        return (False, 0.0) if count_include_pad else (True, None)

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return avg_pool_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        total, count = _window_sums(args[0].astype(np.float64), tuple(op.attrs["filter"]), tuple(op.attrs["stride"]),
                                    self.float_padding(graph, op), np.float64)
        return clamp_activation(total / count, op.attrs["activation"])


OP = AvgPool2d()
