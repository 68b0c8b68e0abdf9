"""``arm_depthwise_conv_s8``: CMSIS-NN's depthwise convolution, any multiplier. The default
kernel for every depthwise_conv2d."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import depthwise
from edge_deploy.kernels._weighted import weighted_context, weights_comment
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class ArmDepthwiseConvS8(KernelSpec):
    name = "arm_depthwise_conv_s8"
    op = "depthwise_conv2d"
    upstream = "4.0.0"
    # A channel multiplier of 1 and a larger one take different paths.
    cost_terms = ("macs_multiplier_1", "macs_multiplier_n", "outputs", "calls")
    calibration = (depthwise(12, 12, 16, 1, 3, 1, "same"), depthwise(12, 12, 8, 1, 3, 2, "same"),
                   depthwise(6, 6, 32, 1, 3, 1, "same"), depthwise(10, 4, 1, 8, 3, 1, "same"),
                   depthwise(8, 8, 4, 2, 3, 1, "valid"), depthwise(5, 5, 24, 1, 3, 2, "same"))

    def upstream_scratch_bytes(self, call: LayerCall, library) -> int:
        # arm_depthwise_conv_wrapper_s8 (DSP path): a channel multiplier of 1, batch 1, no
        # dilation runs arm_depthwise_conv_3x3_s8 (3x3, padding <= 1: no scratch) or
        # arm_depthwise_conv_s8_opt (one int16 column of channels x kernel taps); others none.
        if not library.declares("arm_depthwise_conv_wrapper_s8"):
            return self.scratch_bytes(call)
        x, w = call.input.shape, call.weights.shape
        top, _, left, _ = (int(v) for v in call.params["padding"])
        if call.output.shape[3] != x[3] or x[0] != 1 or tuple(call.params["dilation"]) != (1, 1):
            return 0
        if (w[1], w[2]) == (3, 3) and top <= 1 and left <= 1:
            return 0
        return int(x[3]) * int(w[1]) * int(w[2]) * 2

    def cost_features(self, call: LayerCall) -> list[float]:
        multiplier_1 = call.output.shape[3] == call.input.shape[3]
        return [call.macs if multiplier_1 else 0, 0 if multiplier_1 else call.macs, int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        weights = CArray("weights", "int8_t", call.weights.data, weights_comment(call))
        return weighted_context(call, [weights])


KERNEL = ArmDepthwiseConvS8()
