"""Where a kernel's partial finds each input of its op: an activation in the arena (the layer's
``inputs``, in op order, constants left out) or a constant the layer keeps in flash (a
concatenation or element-wise op with a constant operand). The partial prints each with the
``operand`` macro of ``templates/kernels/_operands.c.j2``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.kernels.base import CArray, KernelContext, LayerCall


def operand_sources(call: LayerCall, ctx: KernelContext) -> list[dict[str, Any]]:
    """One entry per op input: ``{"input": k}`` (the k-th activation of the layer) or
    ``{"array": "operand<i>"}`` (a flash array added to ``ctx``)."""
    sources, k = [], 0
    for i, name in enumerate(call.op.inputs):
        t = call.graph.tensor(name)
        if t.is_constant:
            ctx.arrays.append(CArray(f"operand{i}", "int8_t", np.asarray(t.data, dtype=np.int8),
                                     f"constant input {i} '{name}' {tuple(t.shape)}"))
            sources.append({"array": f"operand{i}"})
        else:
            sources.append({"input": k})
            k += 1
    return sources
