"""MAX_POOL_2D: the maximum over each window (padding never wins), fused ReLU / ReLU6; the output
keeps the input's quantization. C API: ``arm_max_pool_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.numerics.fixedpoint import saturate
from edge_deploy.numerics.windows import Padding, window_patches
from edge_deploy.ops._pool import Pool2d
from edge_deploy.ops._shared import clamp_activation
from edge_deploy.ops.base import TfliteCode


def max_pool_s8(x: np.ndarray, *, filter_hw: tuple[int, int], stride: tuple[int, int],
                padding: Padding = (0, 0, 0, 0), act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """MAX_POOL_2D, int8 (``arm_max_pool_s8``): max over the in-bounds part of each window."""
    patches, _ = window_patches(x, filter_hw, stride, (1, 1), padding, pad_value=-(2**40))
    return saturate(patches.max(axis=(3, 4)), act_min, act_max)


class MaxPool2d(Pool2d):
    kind = "max_pool2d"
    reference = staticmethod(max_pool_s8)
    tflite_codes = (TfliteCode(17, "MAX_POOL_2D", 2),)
    torch_modules = ("MaxPool1d", "MaxPool2d")
    aten_targets = ("max_pool1d", "max_pool2d", "max_pool2d_with_indices")

    def padded_window(self, count_include_pad: bool) -> tuple[bool, float | None]:
        """PyTorch pads a max pool with -inf: SAME (padding never wins) where it pads alike, else a
        PAD with the lowest value (int8 -128) before a VALID pool."""
        return True, float("-inf")

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        return max_pool_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        patches, _ = window_patches(args[0].astype(np.float64), tuple(op.attrs["filter"]), tuple(op.attrs["stride"]),
                                    (1, 1), self.float_padding(graph, op), -np.inf)
        return clamp_activation(patches.max(axis=(3, 4)), op.attrs["activation"])


OP = MaxPool2d()
