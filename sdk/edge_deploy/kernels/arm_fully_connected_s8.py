"""``arm_fully_connected_s8``: CMSIS-NN's fully connected layer with one requantization for the
whole layer (per-tensor weights)."""

from __future__ import annotations

from edge_deploy.kernels._layers import fully_connected
from edge_deploy.kernels._dense_fc import DenseFullyConnected


class ArmFullyConnectedS8(DenseFullyConnected):
    name = "arm_fully_connected_s8"
    calibration = tuple(fully_connected(d, u, r, per_tensor=True)
                        for d, u, r in ((448, 100, 1), (100, 10, 1), (256, 64, 1), (640, 128, 1), (64, 64, 2)))
    upstream = "4.0.0"
    per_channel = False


KERNEL = ArmFullyConnectedS8()
