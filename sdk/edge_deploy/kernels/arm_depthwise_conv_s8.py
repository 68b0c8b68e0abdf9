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

    def cost_features(self, call: LayerCall) -> list[float]:
        multiplier_1 = call.output.shape[3] == call.input.shape[3]
        return [call.macs if multiplier_1 else 0, 0 if multiplier_1 else call.macs, int(np.prod(call.output.shape)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        weights = CArray("weights", "int8_t", call.weights.data, weights_comment(call))
        return weighted_context(call, [weights])


KERNEL = ArmDepthwiseConvS8()
