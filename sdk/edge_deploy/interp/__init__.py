"""NumPy int8 reference interpreter, bit-exact with TFLite.

``edge_deploy.interp.interpreter`` runs a whole :class:`edge_deploy.ir.Graph`; each op's
reference function lives in its op module (:mod:`edge_deploy.ops`).
"""
