"""``ed_fully_connected_csr_s8``: fully connected on unstructured sparse weights."""

from __future__ import annotations

from edge_deploy.kernels._layers import fully_connected, pruned
from edge_deploy.kernels._sparse_spec import SparseFullyConnected


class EdFullyConnectedCsrS8(SparseFullyConnected):
    name = "ed_fully_connected_csr_s8"
    calibration = tuple(pruned([fully_connected(d, u) for d, u in ((448, 100), (100, 10), (256, 64), (64, 64), (301, 17))],
                              0.8, 0.3, key="zero_weights"))
    sparse_format = "csr"


KERNEL = EdFullyConnectedCsrS8()
