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
    # arm_convolve_s8.c: with a patch of whole words (and at most 64 output channels) every pair of
    # positions x pair of channels takes the 2x2 Thumb-2 block and the prepared requantization
    # (fast_macs); the rest (an odd last channel or position, or every output when the patch is not
    # whole words) takes the C edge loop, its groups (edge_macs) and scalar tail (tail_macs), and
    # the full requantization (edge_outputs). Patches are widened a run at a time where a window
    # row is whole words inside the input (column_bytes), else element by element (element_bytes).
    cost_terms = ("fast_macs", "edge_macs", "tail_macs", "outputs", "edge_outputs", "column_bytes", "element_bytes",
                  "calls")
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
        cout = int(call.output.shape[3])
        outputs = int(np.prod(call.output.shape))
        k_total = call.weight_rows.shape[1]
        tail = k_total % 4
        fast = tail == 0 and cout <= 64
        fast_outputs = batches * (positions - positions % 2) * (cout - cout % 2) if fast else 0
        edge_outputs = outputs - fast_outputs
        element = batches * self._element_rows(call) * int(call.weights.shape[2]) * int(call.weights.shape[3])
        return [fast_outputs * k_total, edge_outputs * (k_total - tail), edge_outputs * tail, outputs, edge_outputs,
                positions * batches * k_total, element, 1]

    @staticmethod
    def _element_rows(call: LayerCall) -> int:
        """Window rows (per batch) that ed_conv_column builds element by element: a 2-D or dilated
        window's rows that are not whole words or not inside the input; a 1-D window's when it is
        not inside the input (but for runs of whole groups beside whole groups of padding)."""
        p = call.params
        _, in_h, in_w, cin = (int(v) for v in call.input.shape)
        _, out_h, out_w, _ = (int(v) for v in call.output.shape)
        kh, kw = int(call.weights.shape[1]), int(call.weights.shape[2])
        stride_h, stride_w = (int(v) for v in p["stride"])
        dil_h, dil_w = (int(v) for v in p["dilation"])
        top, left = int(p["padding"][0]), int(p["padding"][2])
        k_total = kh * kw * cin
        whole = (kw * cin) % 4 == 0 and dil_w == 1
        base_y = np.arange(out_h) * stride_h - top
        base_x = np.arange(out_w) * stride_w - left
        x_inside = (base_x >= 0) & (base_x + kw <= in_w)
        iy = base_y[:, None] + np.arange(kh)[None, :] * dil_h            # (out_h, kh)
        built = whole & ((iy >= 0) & (iy < in_h))[:, None, :] & x_inside[None, :, None]
        rows = kh - built.sum(axis=2)                                     # (out_h, out_w): element rows
        if kh == 1 and dil_w == 1:  # a 1-D window in the input's row: none inside, none at whole groups
            first, last = np.maximum(0, -base_x), np.minimum(kw, in_w - base_x)
            aligned = (k_total % 4 == 0) & (last > first) & (first * cin % 4 == 0) & ((last - first) * cin % 4 == 0)
            rows[((base_y >= 0) & (base_y < in_h))[:, None] & (x_inside | aligned)[None, :]] = 0
        return int(rows.sum())

    def context(self, call: LayerCall) -> KernelContext:
        weights = CArray("weights", "int8_t", call.weights.data, weights_comment(call))
        return weighted_context(call, [weights])


KERNEL = ArmConvolveS8()
