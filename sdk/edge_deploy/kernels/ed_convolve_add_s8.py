"""``ed_convolve_add_s8``: ``ed_convolve_s8`` with the ADD after it fused (a ResNet's residual:
conv + skip). Per sixteen output positions the convolution's outputs are staged in the scratch and
``ed_elementwise_add_linear_s8``'s form of them and the ADD's other operand is stored
(firmware/include/ed_convolve.h); the convolution's output tensor is never stored, and the sum may
overwrite the other operand where nothing reads it afterwards (then the layer needs no memory for
either the convolution's output or the ADD's). Bit-exact where the ADD has a linear form (checked
on all 65,536 input pairs; :mod:`edge_deploy.kernels._fused_add`)."""

from __future__ import annotations

import dataclasses

from edge_deploy.kernels import get_kernel
from edge_deploy.kernels._fused_add import FusedAdd
from edge_deploy.kernels._layers import add_after
from edge_deploy.kernels._weighted import conv_positions
from edge_deploy.kernels.base import LayerCall
from edge_deploy.kernels.cost import estimate_cycles
from edge_deploy.kernels.ed_convolve_s8 import EdConvolveS8, filter_shape


STAGED_POSITIONS = 16  # ED_CONV_ADD_POSITIONS: the positions whose outputs each ADD call takes


class EdConvolveAddS8(FusedAdd, EdConvolveS8):
    name = "ed_convolve_add_s8"
    staged = "sixteen positions"
    base = "ed_convolve_s8"
    code_bytes = 3072  # a second copy of the convolution's C driver (the Thumb-2 loops are shared) and the ADD's loop
    # The convolution's own modelled cycles (ed_convolve_s8's terms and coefficients), the ADD's
    # elements (ed_elementwise_add_linear_s8's loop over the staged outputs) and its calls (one
    # per STAGED_POSITIONS positions).
    cost_terms = ("convolution", "add_elements", "add_calls")
    calibration = tuple(add_after([
        {"in": [(1, 32, 32, 16)], "w": (16, 3, 3, 16), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                               "padding": "same"}},
        {"in": [(1, 16, 16, 16)], "w": (32, 1, 1, 16), "attrs": {"stride": (2, 2), "dilation": (1, 1),
                                                               "padding": "valid"}},
        {"in": [(1, 8, 8, 32)], "w": (64, 1, 1, 32), "attrs": {"stride": (2, 2), "dilation": (1, 1),
                                                              "padding": "valid"}},
        {"in": [(1, 8, 8, 24)], "w": (24, 3, 3, 24), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                              "padding": "same"}},
        {"in": [(1, 7, 5, 8)], "w": (7, 3, 3, 8), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                           "padding": "same"}},
        {"in": [(1, 9, 9, 12)], "w": (12, 1, 1, 12), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                              "padding": "valid"}},
    ], slots=(0, 1, 0, 1, 0, 1)))

    def serves(self, op_kind: str) -> bool:
        return op_kind == "conv2d"

    def scratch_bytes(self, call: LayerCall) -> int:
        return super().scratch_bytes(call) + STAGED_POSITIONS * filter_shape(call)[0]

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        convolution = estimate_cycles(get_kernel(self.base), dataclasses.replace(call, epilogue=None))
        return [convolution, batches * positions * filter_shape(call)[0],
                batches * -(-positions // STAGED_POSITIONS)]


KERNEL = EdConvolveAddS8()
