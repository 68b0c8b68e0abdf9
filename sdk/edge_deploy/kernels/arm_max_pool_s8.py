"""``arm_max_pool_s8``: CMSIS-NN's max pooling."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import pool
from edge_deploy.kernels._pool import Pool
from edge_deploy.kernels.base import LayerCall


class ArmMaxPoolS8(Pool):
    name = "arm_max_pool_s8"
    calibration = (pool(1, 256, 16, 1, 2), pool(8, 8, 16, 2, 2), pool(6, 6, 5, 3, 3), pool(1, 64, 64, 1, 2),
                   pool(12, 12, 8, 2, 2), pool(4, 10, 32, 2, 2), pool(10, 10, 3, 2, 2), pool(7, 9, 12, 3, 3, "same"),
                   pool(1, 48, 6, 1, 2))
    op = "max_pool2d"
    upstream = "4.0.0"
    # arm_max_pool_s8.c on the DSP path: a 1-D pool of two by two over whole words of channels
    # streams two words per four outputs, as does any window that is two taps of one row (with
    # no upper clamp); any other window takes, per four channels, a word per tap (group_taps), and
    # channels past the last four a byte per tap (scalar_taps); each window but the stream's has
    # its bounds worked out (windows).
    cost_terms = ("stream_words", "group_taps", "scalar_taps", "outputs", "windows", "calls")

    def cost_features(self, call: LayerCall) -> list[float]:
        p = call.params
        batches, in_h, in_w, channels = (int(v) for v in call.input.shape)
        _, out_h, out_w, _ = (int(v) for v in call.output.shape)
        fh, fw = (int(v) for v in p["filter_hw"])
        sh, sw = (int(v) for v in p["stride"])
        top, left = int(p["padding"][0]), int(p["padding"][2])
        outputs = int(np.prod(call.output.shape))
        groups, rest = channels // 4, channels % 4
        no_upper = int(p["act_max"]) == 127
        if (in_h, out_h, fh, fw, sw, top, left, channels % 4) == (1, 1, 1, 2, 2, 0, 0, 0) and no_upper:
            return [batches * out_w * 2 * groups, 0, 0, outputs, 0, 1]
        y0 = np.arange(out_h) * sh - top
        x0 = np.arange(out_w) * sw - left
        rows = np.minimum(fh, in_h - y0) - np.maximum(0, -y0)
        cols = np.minimum(fw, in_w - x0) - np.maximum(0, -x0)
        taps = rows[:, None] * cols[None, :]                      # each window's taps inside the input
        streamed = (rows[:, None] == 1) & (cols[None, :] == 2) & no_upper
        stream = 2 * groups * int(streamed.sum())
        group_taps = groups * int(taps[~streamed].sum())
        scalar_taps = rest * int(taps.sum())
        return [batches * stream, batches * group_taps, batches * scalar_taps, outputs, batches * out_h * out_w, 1]


KERNEL = ArmMaxPoolS8()
