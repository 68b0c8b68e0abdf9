"""``ed_convolve_winograd_add_s8``: ``ed_convolve_winograd_s8`` with the ADD after it fused (a
ResNet's residual: conv + skip). Each pair of tiles' outputs (eight positions) is staged in the
scratch, then ``ed_elementwise_add_linear_s8``'s form of them and the ADD's other operand is
stored (firmware/include/ed_winograd.h); the convolution's output tensor is never stored, and
the sum may overwrite the other operand (:mod:`edge_deploy.kernels._fused_add`)."""

from __future__ import annotations

from edge_deploy.kernels._fused_add import FusedAdd
from edge_deploy.kernels._layers import add_after, conv2d
from edge_deploy.kernels._winograd_spec import Winograd
from edge_deploy.kernels.base import LayerCall

STAGED_POSITIONS = 8  # ED_WINO_ADD_POSITIONS: a pair of tiles, the positions each ADD call takes


class EdConvolveWinogradAddS8(FusedAdd, Winograd):
    name = "ed_convolve_winograd_add_s8"
    staged = "eight positions"
    base = "ed_convolve_winograd_s8"
    # The convolution's own terms (ed_convolve_winograd_s8's, fitted again here), the ADD's
    # elements (ed_add_linear over the staged outputs) and its calls (one per pair of tiles).
    cost_terms = Winograd.cost_terms[:-1] + ("add_elements", "add_calls", "calls")
    # More layers than terms, whose convolution costs from a little to a lot per output (4 to 64
    # input channels), at widths that do and do not fill the last pair of tiles, with and without
    # rows of padding, so that every term is told apart.
    calibration = tuple(add_after([
        conv2d(16, 16, 16, 16, 3, 1, "same"), conv2d(8, 8, 64, 32, 3, 1, "same"), conv2d(8, 16, 4, 8, 3, 1, "same"),
        conv2d(6, 24, 4, 12, 3, 1, "valid"), conv2d(7, 5, 8, 7, 3, 1, "same"), conv2d(12, 12, 16, 16, 3, 1, "same"),
        conv2d(10, 8, 32, 16, 3, 1, "valid"), conv2d(5, 20, 8, 8, 3, 1, "same"), conv2d(16, 8, 8, 24, 3, 1, "same"),
        conv2d(4, 32, 12, 8, 3, 1, "same"), conv2d(9, 9, 24, 24, 3, 1, "same"), conv2d(6, 6, 48, 48, 3, 1, "same"),
        conv2d(14, 10, 4, 4, 3, 1, "same")], slots=(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0)))

    def scratch_bytes(self, call: LayerCall) -> int:
        return super().scratch_bytes(call) + STAGED_POSITIONS * int(call.weights.shape[0])

    def cost_features(self, call: LayerCall) -> list[float]:
        batches, out_h, out_w, cout = (int(v) for v in call.output.shape)
        convolution = super().cost_features(call)[:-1]  # less its calls, the last term
        return convolution + [batches * out_h * out_w * cout, batches * out_h * -(-out_w // STAGED_POSITIONS), 1]


KERNEL = EdConvolveWinogradAddS8()
