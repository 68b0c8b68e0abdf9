"""``arm_max_pool_s8``: CMSIS-NN's max pooling."""

from __future__ import annotations

from edge_deploy.kernels._layers import pool
from edge_deploy.kernels._pool import Pool


class ArmMaxPoolS8(Pool):
    name = "arm_max_pool_s8"
    calibration = (pool(1, 256, 16, 1, 2), pool(8, 8, 16, 2, 2), pool(6, 6, 5, 3, 3), pool(1, 64, 64, 1, 2))
    op = "max_pool2d"
    upstream = "4.0.0"


KERNEL = ArmMaxPoolS8()
