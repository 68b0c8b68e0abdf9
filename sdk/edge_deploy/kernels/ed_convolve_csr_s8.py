"""``ed_convolve_csr_s8``: convolution on unstructured sparse weights (one index per nonzero
weight, for comparison with Scalpel's groups; firmware/include/ed_sparse.h)."""

from __future__ import annotations

from edge_deploy.kernels._layers import CONV_1D, pruned
from edge_deploy.kernels._sparse_spec import SparseConv


class EdConvolveCsrS8(SparseConv):
    name = "ed_convolve_csr_s8"
    calibration = tuple(pruned(CONV_1D, 0.75, 0.4, key="zero_weights"))
    sparse_format = "csr"


KERNEL = EdConvolveCsrS8()
