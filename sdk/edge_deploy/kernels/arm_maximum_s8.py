"""``arm_maximum_s8``: CMSIS-NN's element-wise maximum (v7.0.0 API, kernels/_minmax)."""

from __future__ import annotations

from edge_deploy.kernels._minmax import MinMaxSpec, calibration


class ArmMaximumS8(MinMaxSpec):
    name = "arm_maximum_s8"
    op = "maximum"
    calibration = calibration()


KERNEL = ArmMaximumS8()
