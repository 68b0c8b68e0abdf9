"""The graph IR (tensors, ops, shape inference, validation) shared by every later stage.

See docs/ir.md. ``Graph``, ``Op``, ``Tensor``, ``QuantParams`` describe a model;
``validate`` / ``infer_shapes`` check it; ``kernel_params`` gives each int8 op's kernel arguments.
"""

from edge_deploy.ir.graph import ACTIVATIONS, OP_ATTRS, OP_KINDS, Graph, Op, QuantParams, Tensor
from edge_deploy.ir.params import KERNEL_FUNCTIONS, activation_range, kernel_params
from edge_deploy.ir.shapes import infer_shapes, output_shape, validate

__all__ = [
    "ACTIVATIONS", "KERNEL_FUNCTIONS", "OP_ATTRS", "OP_KINDS", "Graph", "Op", "QuantParams", "Tensor",
    "activation_range", "infer_shapes", "kernel_params", "output_shape", "validate",
]
