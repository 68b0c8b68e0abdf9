"""``arm_convolve_s8``: CMSIS-NN's convolution (im2col of two columns, 2x2 SMLAD blocks on the
DSP path). The default kernel for every conv2d."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import CONV_1D, CONV_2D
from edge_deploy.kernels._weighted import conv_positions, weighted_context, weights_comment
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


class ArmConvolveS8(KernelSpec):
    name = "arm_convolve_s8"
    op = "conv2d"
    # Since v7.0.0 it also takes upscale_dims (transposed convolution); with upstream the partial
    # calls arm_convolve_wrapper_s8 (same API in every release), which picks the 1x1 and 1xN paths.
    upstream = "4.0.0"
    # MACs on the 2x2 SIMD blocks (k_total rounded down to 4) and on the scalar tail apart: a row
    # length that is not a multiple of 4 (3x3x3 = 27) runs part of every dot product scalar.
    cost_terms = ("grouped_macs", "tail_macs", "outputs", "column_bytes", "calls")
    calibration = tuple(CONV_1D + CONV_2D)

    def scratch_bytes(self, call: LayerCall) -> int:
        # Two int16 im2col columns (arm_convolve_s8_get_buffer_size), the most any path asks.
        w = call.weights.shape
        return 2 * w[1] * w[2] * w[3] * 2

    def upstream_scratch_bytes(self, call: LayerCall, library) -> int:
        # Upstream's im2col holds two int16 columns of the row length rounded up to 4
        # (arm_convolve_s8_get_buffer_size, DSP path); its wrapper's 1x1 paths need none with GCC.
        top, _, left, _ = (int(v) for v in call.params["padding"])
        w = call.weights.shape
        im2col = 2 * (-(-(w[1] * w[2] * w[3]) // 4) * 4) * 2
        if not library.declares("arm_convolve_wrapper_s8"):
            return max(self.scratch_bytes(call), im2col)
        one_by_one = (w[1], w[2]) == (1, 1) and (top, left) == (0, 0) and tuple(call.params["dilation"]) == (1, 1)
        return 0 if one_by_one else im2col

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        outputs = int(np.prod(call.output.shape))
        k_total = call.weight_rows.shape[1]
        tail = k_total % 4
        return [outputs * (k_total - tail), outputs * tail, outputs, positions * batches * k_total, 1]

    def context(self, call: LayerCall) -> KernelContext:
        weights = CArray("weights", "int8_t", call.weights.data, weights_comment(call))
        return weighted_context(call, [weights])


KERNEL = ArmConvolveS8()
