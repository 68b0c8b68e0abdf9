"""Code generation: an int8 graph -> a plain C project calling the CMSIS-NN s8 API.

* :func:`plan_model`: the graph's layers (``edge_deploy.codegen.layers``, each with the kernel
  :mod:`edge_deploy.kernels` chose for it) and its arena plan.
* :func:`render_model`: ``model.h``, ``model.c`` and ``Makefile`` from ``templates/``, in memory.
* :func:`write_project`: the whole project folder (model, Makefile, board files, runtime, kernels).
"""

from edge_deploy.codegen.layers import MAX_LAYERS, Layer, graph_layers, plan_steps, tensor_sizes
from edge_deploy.codegen.project import GeneratedProject, ModelPlan, plan_model, render_model, write_project

__all__ = [
    "MAX_LAYERS", "GeneratedProject", "Layer", "ModelPlan", "graph_layers", "plan_model", "plan_steps",
    "render_model", "tensor_sizes", "write_project",
]
