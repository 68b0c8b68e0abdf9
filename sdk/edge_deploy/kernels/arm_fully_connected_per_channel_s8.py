"""``arm_fully_connected_per_channel_s8``: CMSIS-NN's fully connected layer with one
requantization per output unit (per-channel weights, TensorFlow's converter's default for Dense)."""

from __future__ import annotations

from edge_deploy.kernels._layers import fully_connected
from edge_deploy.kernels._dense_fc import DenseFullyConnected


class ArmFullyConnectedPerChannelS8(DenseFullyConnected):
    name = "arm_fully_connected_per_channel_s8"
    calibration = tuple(fully_connected(d, u, r) for d, u, r in ((448, 100, 1), (100, 10, 1), (256, 64, 1),
                                                                  (640, 128, 1), (64, 64, 2), (301, 17, 1),
                                                                  (16, 10, 1)))
    upstream = "7.0.0"
    per_channel = True


KERNEL = ArmFullyConnectedPerChannelS8()
