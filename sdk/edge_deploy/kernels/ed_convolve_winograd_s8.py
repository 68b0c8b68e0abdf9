"""``ed_convolve_winograd_s8``: edge-deploy's Winograd F(4,3) along the rows of any convolution
with dilation 1 (stride and long kernels as 3-tap segments over virtual channels, the filter's
rows one after another), bit-exact (firmware/include/ed_winograd.h)."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D, conv2d
from edge_deploy.kernels._winograd_spec import Winograd


class EdConvolveWinogradS8(Winograd):
    name = "ed_convolve_winograd_s8"
    calibration = tuple(CONV_1D) + (
        conv2d(12, 12, 16, 16, 3, 1, "same"), conv2d(8, 8, 32, 32, 3, 1, "same"), conv2d(6, 6, 64, 64, 3, 1, "same"),
        conv2d(9, 7, 8, 12, 3, 1, "valid"), conv2d(10, 10, 4, 8, 3, 2, "same"), conv2d(16, 16, 16, 16, 3, 1, "same"))


KERNEL = EdConvolveWinogradS8()
