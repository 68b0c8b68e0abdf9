"""What the two dense fully connected kernels share (per-tensor and per-channel requantization)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._weighted import fc_rows, weighted_context, weights_comment
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class DenseFullyConnected(KernelSpec):
    """A dense fully connected kernel; subclasses say which requantization they take."""

    op = "fully_connected"
    cost_terms = ("macs", "outputs", "input_bytes", "calls")
    per_channel: bool

    @property
    def template(self) -> str:
        return "kernels/arm_fully_connected_s8.c.j2"  # one call shape, the quant struct differs

    def applies(self, call: LayerCall) -> str | None:
        if call.weights.quant.per_channel != self.per_channel:
            which = "per-channel" if call.weights.quant.per_channel else "per-tensor"
            return f"the weights are quantized {which}"
        return None

    def cost_features(self, call: LayerCall) -> list[float]:
        rows, depth = fc_rows(call), int(call.weights.shape[1])
        return [call.macs, int(np.prod(call.output.shape)), rows * (-(-depth // 4) * 4), 1]

    def context(self, call: LayerCall) -> KernelContext:
        return weighted_context(call, [CArray("weights", "int8_t", call.weights.data, weights_comment(call))])
