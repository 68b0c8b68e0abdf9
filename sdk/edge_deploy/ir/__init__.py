"""The graph IR shared by every later stage: ``Graph``, ``Op``, ``Tensor``, ``QuantParams``.

Plain data (see docs/ir.md). What each op kind means, and the checks of a whole graph
(``validate``, ``infer_shapes``), live in :mod:`edge_deploy.ops`.
"""

from edge_deploy.ir.graph import DTYPES, Graph, Op, QuantParams, Tensor

__all__ = ["DTYPES", "Graph", "Op", "QuantParams", "Tensor"]
