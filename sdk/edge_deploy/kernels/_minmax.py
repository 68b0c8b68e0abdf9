"""What ``arm_maximum_s8`` and ``arm_minimum_s8`` share: CMSIS-NN v7.0.0's API on up to four
NHWC axes, broadcasting inside the kernel."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import dims
from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


class MinMaxSpec(KernelSpec):
    upstream = "7.0.0"
    # Per row along C (the output's positions): four bytes at a time with the bytewise SIMD
    # max / min where both inputs run along C (words), one at a time through the pick function
    # otherwise and past the last word (scalars); per call.
    cost_terms = ("words", "scalars", "rows", "calls")

    def applies(self, call: LayerCall) -> str | None:
        if len(call.output.shape) > 4:
            return f"its output has {len(call.output.shape)} axes ({self.name} takes up to 4)"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        shape = tuple(int(v) for v in call.output.shape)
        channels, rows = shape[-1], int(np.prod(shape[:-1]))
        along_c = all(int(call.graph.tensor(n).shape[-1]) == channels != 1 for n in call.op.inputs)
        words = rows * (channels // 4) if along_c else 0
        return [words, rows * channels - 4 * words, rows, 1]

    def context(self, call: LayerCall) -> KernelContext:
        ctx = KernelContext()
        rank = len(call.output.shape)
        shapes = [(1,) * (rank - len(s)) + tuple(s) for s in (call.graph.tensor(n).shape for n in call.op.inputs)]
        ctx.fields.update(operands=operand_sources(call, ctx), operand_dims=[dims(s) for s in shapes])
        return ctx


def calibration() -> tuple[dict, ...]:
    """Equal shapes, a per-channel operand, a broadcast row, a vector, channels past the last word,
    a scalar per position (broadcast along C)."""
    return tuple({"in": pair, "shared_quant": True} for pair in (
        [(1, 8, 8, 16), (1, 8, 8, 16)], [(1, 6, 6, 32), (1, 1, 1, 32)], [(1, 4, 4, 8), (1, 4, 1, 8)],
        [(1, 100), (1, 100)], [(1, 10, 10, 3), (1, 10, 10, 3)], [(1, 5, 7, 10), (1, 5, 7, 10)],
        [(1, 6, 6, 12), (1, 6, 6, 1)]))
