"""``ed_convolve_group_sparse_s8``: convolution on Scalpel's group-sparse weights (one index per
kept group of 4, SMLAD on the kept words; firmware/include/ed_sparse.h)."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D, CONV_2D, pruned
from edge_deploy.kernels._sparse_spec import SparseConv


class EdConvolveGroupSparseS8(SparseConv):
    name = "ed_convolve_group_sparse_s8"
    calibration = tuple(pruned(CONV_1D, 0.75, 0.4) + pruned(CONV_2D, 0.6))
    sparse_format = "group4"


KERNEL = EdConvolveGroupSparseS8()
