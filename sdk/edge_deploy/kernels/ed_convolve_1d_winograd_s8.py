"""``ed_convolve_1d_winograd_s8``: edge-deploy's Winograd F(4,3) for any 1-D convolution (stride
and long kernels as 3-tap segments over virtual channels), bit-exact (firmware/include/ed_winograd.h)."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D
from edge_deploy.kernels._winograd_spec import Winograd


class EdConvolve1dWinogradS8(Winograd):
    name = "ed_convolve_1d_winograd_s8"
    calibration = tuple(CONV_1D)


KERNEL = EdConvolve1dWinogradS8()
