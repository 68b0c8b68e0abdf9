"""``arm_avgpool_s8``: CMSIS-NN's average pooling (padding not counted, rounded half away)."""

from __future__ import annotations

from edge_deploy.kernels._layers import pool
from edge_deploy.kernels._pool import Pool
from edge_deploy.kernels.base import LayerCall

# Global pools of ResNet's and DS-CNN's heads, a strided 3x3, a 1-D window.
CALIBRATION = (pool(8, 8, 64, 8, 8), pool(25, 5, 64, 25, 5), pool(6, 6, 5, 3, 3), pool(1, 64, 64, 1, 2))


class ArmAvgpoolS8(Pool):
    name = "arm_avgpool_s8"
    calibration = CALIBRATION
    op = "avg_pool2d"
    upstream = "4.0.0"

    def scratch_bytes(self, call: LayerCall) -> int:
        return 4 * int(call.input.shape[3])  # upstream's DSP path: one int32 per channel

    def c_scratch_bytes(self, call: LayerCall) -> int:
        return 0  # edge-deploy's sums in registers


KERNEL = ArmAvgpoolS8()
