"""``ed_fully_connected_group_sparse_s8``: fully connected on group-sparse weights (groups of 4)."""

from __future__ import annotations

from edge_deploy.kernels._layers import fully_connected, pruned
from edge_deploy.kernels._sparse_spec import SparseFullyConnected


class EdFullyConnectedGroupSparseS8(SparseFullyConnected):
    name = "ed_fully_connected_group_sparse_s8"
    calibration = tuple(pruned([fully_connected(d, u) for d, u in ((448, 100), (100, 10), (256, 64), (64, 64), (301, 17))],
                              0.8, 0.3))
    sparse_format = "group4"


KERNEL = EdFullyConnectedGroupSparseS8()
