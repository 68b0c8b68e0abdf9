"""``ed_elementwise_mul_channels_s8``: MUL of a feature map ``(1, H, W, C)`` by one value per
channel ``(1, 1, 1, C)`` (a squeeze-and-excitation / attention gate), in either operand order:
CMSIS-NN's ``arm_elementwise_mul_s8`` once per pixel, on the pixel's C values and the gate (the
loop is in the partial). The arithmetic is MUL's; only the broadcast is new."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import c_float
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall


def _gate_position(call: LayerCall) -> int | None:
    out = tuple(call.output.shape)
    shapes = [tuple(call.graph.tensor(n).shape) for n in call.op.inputs]
    for gate in (1, 0):
        g, m = shapes[gate], shapes[1 - gate]
        if m == out and len(g) == len(out) and g[-1] == out[-1] and all(d == 1 for d in g[:-1]) and g != out:
            return gate
    return None


class EdElementwiseMulChannelsS8(KernelSpec):
    name = "ed_elementwise_mul_channels_s8"
    op = "mul"
    cost_terms = ("elements", "pixels", "calls")
    calibration = tuple({"in": [m, (1, 1, 1, m[-1])]} for m in (
        (1, 16, 16, 16), (1, 8, 8, 32), (1, 4, 4, 64), (1, 2, 2, 96), (1, 16, 8, 8)))

    def applies(self, call: LayerCall) -> str | None:
        if _gate_position(call) is None:
            a, b = (call.graph.tensor(n).shape for n in call.op.inputs)
            return f"it multiplies {a} by {b}, not a map by one value per channel"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        out = call.output.shape
        return [int(np.prod(out)), int(np.prod(out[:-1])), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p, y = call.params, call.output
        gate = _gate_position(call)
        offsets = (p["input1_offset"], p["input2_offset"])
        m, g = call.graph.tensor(call.op.inputs[1 - gate]), call.graph.tensor(call.op.inputs[gate])
        ctx = KernelContext()
        ctx.constant("MAP_OFFSET", offsets[1 - gate], f"-(map zero point); scale {c_float(m.scale)}")
        ctx.constant("GATE_OFFSET", offsets[gate], f"-(gate zero point); scale {c_float(g.scale)}")
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], f"output zero point; output scale {c_float(y.scale)}")
        ctx.constant("OUT_MULT", p["out_mult"], "map scale * gate scale / output scale (Q31)")
        ctx.constant("OUT_SHIFT", p["out_shift"])
        ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{call.op.attrs.get('activation', 'none')}', "
                     "in output units")
        ctx.constant("ACT_MAX", p["act_max"])
        ctx.constant("CHANNELS", int(y.shape[-1]), "values per pixel, one gate value each")
        ctx.constant("PIXELS", int(np.prod(y.shape[:-1])))
        ctx.fields.update(map_input=1 - gate, gate_input=gate)
        return ctx


KERNEL = EdElementwiseMulChannelsS8()
