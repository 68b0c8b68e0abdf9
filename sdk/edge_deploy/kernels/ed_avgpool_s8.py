"""``ed_avgpool_s8``: edge-deploy's average pooling, arm_avgpool_s8's arguments and arithmetic
with sixteen channels per pass on the DSP path (firmware/kernels/ed_avgpool_s8.c)."""

from __future__ import annotations

from edge_deploy.kernels.arm_avgpool_s8 import CALIBRATION
from edge_deploy.kernels._pool import Pool


class EdAvgpoolS8(Pool):
    name = "ed_avgpool_s8"
    op = "avg_pool2d"
    header = "ed_pool.h"
    calibration = CALIBRATION


KERNEL = EdAvgpoolS8()
