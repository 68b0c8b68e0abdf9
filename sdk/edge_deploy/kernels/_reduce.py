"""What the reduction kernels (``ed_mean_s8``, ``ed_reduce_max_s8``) share: their axes on the shape
padded to NHWC, and the counts their nested loops cost (ed_reduce.h: per output, a loop over the
reduced n, h, w around an innermost loop over the reduced channels)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import LayerCall

# Per input element the innermost loop's step; per innermost loop entered (an output's reduced
# n x h x w positions) its setup and address; per output its own work.
REDUCE_COST_TERMS = ("inputs", "inner_loops", "outputs", "calls")


def reduced_axes(call: LayerCall) -> list[int]:
    """The reduced axes of ``call`` on its input shape padded to NHWC (0 n, 1 h, 2 w, 3 c)."""
    rank = len(call.input.shape)
    return [int(a) + 4 - rank for a in call.params["axis"]]


def reduce_features(call: LayerCall) -> list[float]:
    """The counts of REDUCE_COST_TERMS for ``call``."""
    inputs = int(np.prod(call.input.shape))
    channels = int(call.input.shape[-1]) if 3 in reduced_axes(call) else 1
    return [inputs, inputs // channels, int(np.prod(call.output.shape)), 1]
