"""NumPy int8 reference interpreter, bit-exact with TFLite's reference kernels.

``edge_deploy.interp.ops`` holds one reference function per op with CMSIS-NN-like parameters;
``edge_deploy.interp.interpreter`` runs a whole :class:`edge_deploy.ir.Graph`.
"""
