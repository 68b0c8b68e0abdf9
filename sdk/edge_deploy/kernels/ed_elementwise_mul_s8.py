"""``ed_elementwise_mul_s8``: edge-deploy's MUL, with arm_elementwise_mul_s8's constants, once per
block of a broadcast (kernels/_broadcast): four elements per word on the DSP path, one fast
requantization per element (firmware/kernels/ed_elementwise_mul_s8.c)."""

from __future__ import annotations

from edge_deploy.kernels.arm_elementwise_mul_s8 import ArmElementwiseMulS8


class EdElementwiseMulS8(ArmElementwiseMulS8):
    name = "ed_elementwise_mul_s8"
    header = "ed_elementwise.h"
    upstream = None


KERNEL = EdElementwiseMulS8()
