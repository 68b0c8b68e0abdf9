"""``ed_fully_connected_skip_zero_s8``: fully connected that skips inputs at the zero point, for a
layer reading pruned activations (Integral Pruning; firmware/include/ed_activation.h).

It applies when the input's expected density is known from the graph: the producer's
``act_density`` (measured when the activation plan was made), through reshapes, and through a
max pool of window ``k`` as ``1 - (1 - d)^k`` (the pool keeps a zero only when its whole window is
zero; windows taken as independent)."""

from __future__ import annotations

import numpy as np

from edge_deploy.ir.graph import Graph
from edge_deploy.kernels._layers import fully_connected
from edge_deploy.kernels._weighted import fc_rows, weighted_context, weights_comment, zero_weight_offset
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


def input_density(graph: Graph, name: str) -> float | None:
    """Expected fraction of nonzero values of tensor ``name``, or None when it is not a pruned
    activation (or its density is unknown)."""
    producers = graph.producers()
    while name in producers:
        op = graph.ops[producers[name]]
        if "act_threshold" in op.attrs:
            density = op.attrs.get("act_density")
            return None if density is None else float(density)
        if op.kind == "reshape":
            name = op.inputs[0]
        elif op.kind == "max_pool2d" and op.attrs.get("activation", "none") == "none":
            inner = input_density(graph, op.inputs[0])
            window = int(np.prod(op.attrs["filter"]))
            return None if inner is None else 1.0 - (1.0 - inner) ** window
        else:
            return None
    return None


class EdFullyConnectedSkipZeroS8(KernelSpec):
    name = "ed_fully_connected_skip_zero_s8"
    op = "fully_connected"
    header = "ed_activation.h"
    family = "sparse"
    cost_terms = ("inputs", "kept_macs", "outputs", "calls")
    calibration = tuple(fully_connected(d, u, density=q)
                        for d, u in ((512, 64), (448, 100), (128, 32), (16, 10), (256, 8), (64, 64), (1024, 16))
                        for q in (0.05, 0.1, 0.3, 0.6))

    def applies(self, call: LayerCall) -> str | None:
        if input_density(call.graph, call.op.inputs[0]) is None:
            return "the input is not a pruned activation of known density"
        return zero_weight_offset(call)

    def facts(self, call: LayerCall) -> dict:
        return {"input_density": round(input_density(call.graph, call.op.inputs[0]), 4)}

    def scratch_bytes(self, call: LayerCall) -> int:
        return 4 * int(call.weights.shape[1])  # an (index, value) int16 pair per input feature

    def cost_features(self, call: LayerCall) -> list[float]:
        density = input_density(call.graph, call.op.inputs[0])
        rows, (units, depth) = fc_rows(call), call.weights.shape
        return [depth * rows, density * call.macs, units * rows, 1]

    def context(self, call: LayerCall) -> KernelContext:
        ctx = weighted_context(call, [CArray("weights", "int8_t", call.weights.data, weights_comment(call))])
        density = input_density(call.graph, call.op.inputs[0])
        ctx.comment.append(f"pruned input: about {density:.0%} of its values are nonzero; zeros are skipped")
        return ctx


KERNEL = EdFullyConnectedSkipZeroS8()
