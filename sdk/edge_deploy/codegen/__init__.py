"""Code generation: an int8 graph -> a plain C project calling the CMSIS-NN s8 API.

* :func:`plan_model`: the graph's layers (``edge_deploy.codegen.layers``) and its arena plan.
* :func:`render_model`: ``model.h``, ``model.c`` and ``Makefile`` from ``templates/``, in memory.
* :func:`write_project`: the whole project folder (model, Makefile, board files, runtime, kernels).
* :func:`project_sources`: the C sources and include folders of a written project.
"""

from edge_deploy.codegen.layers import KERNELS, MAX_LAYERS, Layer, graph_layers, plan_steps, tensor_sizes
from edge_deploy.codegen.project import (
    KERNEL_PATHS,
    GeneratedProject,
    ModelPlan,
    plan_model,
    project_sources,
    render_model,
    write_project,
)

__all__ = [
    "KERNELS", "KERNEL_PATHS", "MAX_LAYERS", "GeneratedProject", "Layer", "ModelPlan", "graph_layers",
    "plan_model", "plan_steps", "project_sources", "render_model", "tensor_sizes", "write_project",
]
