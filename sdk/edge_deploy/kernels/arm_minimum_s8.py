"""``arm_minimum_s8``: CMSIS-NN's element-wise minimum (v7.0.0 API, kernels/_minmax)."""

from __future__ import annotations

from edge_deploy.kernels._minmax import MinMaxSpec, calibration


class ArmMinimumS8(MinMaxSpec):
    name = "arm_minimum_s8"
    op = "minimum"
    calibration = calibration()


KERNEL = ArmMinimumS8()
