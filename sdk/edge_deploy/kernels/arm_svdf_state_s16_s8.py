"""``arm_svdf_state_s16_s8``: CMSIS-NN's SVDF with an int16 state and int16 time weights (the
int8 SVDF TFLite and TFLM run). The state is the layer's variable tensor (``l.states[0]``, kept
beside the arena); the scratch holds the per-filter and per-unit int32 sums."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall
from edge_deploy.ops.svdf import BIAS, FEATURE, TIME


def _layer(inputs: int, filters: int, memory: int, rank: int) -> dict:
    """A calibration layer: one frame of ``inputs`` values, ``filters`` filters of ``memory``."""
    return {"in": [(1, inputs)], "attrs": {"rank": rank, "activation": "relu"},
            "operands": [((filters, inputs), "int8"), ((filters, memory), "int16"),
                         ((1, filters * memory), "int16", "state"), ((filters // rank,), "int32")]}


class ArmSvdfStateS16S8(KernelSpec):
    name = "arm_svdf_state_s16_s8"
    op = "svdf"
    upstream = "4.0.0"
    cost_terms = ("feature_macs", "time_macs", "filters", "calls")
    calibration = (_layer(40, 64, 8, 1), _layer(16, 32, 10, 2), _layer(64, 16, 4, 1), _layer(10, 96, 16, 3),
                   _layer(33, 24, 5, 2), _layer(128, 8, 32, 1))

    def _sizes(self, call: LayerCall) -> tuple[int, int, int, int]:
        """``(batch, filters, memory, units)``."""
        filters, memory = call.graph.tensor(call.op.inputs[TIME]).shape
        return call.input.shape[0], filters, memory, filters // int(call.params["rank"])

    def scratch_bytes(self, call: LayerCall) -> int:
        batch, filters, _, units = self._sizes(call)
        return 4 * batch * (filters + units)  # int32 sums: input_ctx (filters), output_ctx (units)

    def cost_features(self, call: LayerCall) -> list[float]:
        batch, filters, memory, _ = self._sizes(call)
        return [batch * filters * call.input.shape[1], batch * filters * memory, batch * filters, 1]

    def context(self, call: LayerCall) -> KernelContext:
        p, graph, op = call.params, call.graph, call.op
        batch, filters, memory, units = self._sizes(call)
        ctx = KernelContext()
        ctx.constant("INPUT_ZERO_POINT", p["input_zero_point"], "input zero point (passed as is, as TFLM does)")
        ctx.constant("OUTPUT_ZERO_POINT", p["output_zero_point"], "output zero point")
        ctx.constant("IN_MULT", p["in_mult"], "input scale * weights_feature scale / state scale (Q31)")
        ctx.constant("IN_SHIFT", p["in_shift"])
        ctx.constant("OUT_MULT", p["out_mult"], "state scale * weights_time scale / output scale (Q31)")
        ctx.constant("OUT_SHIFT", p["out_shift"])
        ctx.constant("RANK", p["rank"], "filters summed per unit")
        ctx.arrays.append(CArray("weights_feature", "int8_t", np.asarray(graph.tensor(op.inputs[FEATURE]).data),
                                 f"weights_feature ({filters}, {call.input.shape[1]})"))
        ctx.arrays.append(CArray("weights_time", "int16_t", np.asarray(graph.tensor(op.inputs[TIME]).data),
                                 f"weights_time ({filters}, {memory})"))
        has_bias = len(op.inputs) > BIAS and bool(op.inputs[BIAS])
        if has_bias:
            ctx.arrays.append(CArray("bias", "int32_t", np.asarray(graph.tensor(op.inputs[BIAS]).data),
                                     f"bias ({units},)"))
        ctx.fields.update(has_bias=has_bias, batch=batch, input_size=call.input.shape[1], filters=filters,
                          memory=memory, units=units)
        ctx.comment.append(f"{filters} filters of memory {memory}, rank {p['rank']}: {units} units; "
                           "the fused activation is not applied (as TFLite's int8 SVDF)")
        return ctx


KERNEL = ArmSvdfStateS16S8()
