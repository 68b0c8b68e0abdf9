"""``ed_strided_slice_s8``: edge-deploy's strided window copy (SLICE, STRIDED_SLICE, each output
of SPLIT, SPLIT_V and UNPACK) of a tensor of up to four axes; CMSIS-NN has no slice."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import dims
from edge_deploy.kernels.base import KernelContext, KernelSpec, LayerCall
from edge_deploy.ops.slice import sliced_shape


class EdStridedSliceS8(KernelSpec):
    name = "ed_strided_slice_s8"
    op = "slice"
    header = "ed_elementwise.h"
    cost_terms = ("elements", "rows", "calls")
    calibration = ({"in": [(1, 8, 8, 32)], "attrs": {"begin": (0, 0, 0, 8), "end": (1, 8, 8, 24), "strides": (1, 1, 1, 1)}},
                   {"in": [(1, 10, 12, 4)], "attrs": {"begin": (0, 1, 0, 0), "end": (1, 10, 12, 4), "strides": (1, 2, 3, 1)}},
                   {"in": [(1, 64)], "attrs": {"begin": (0, 3), "end": (1, 60), "strides": (1, 2)}},
                   {"in": [(1, 4, 6, 5)], "attrs": {"begin": (0, 2, 0, 0), "end": (1, 3, 6, 5), "strides": (1, 1, 1, 1),
                                                    "shrink": (1,)}},
                   {"in": [(1, 16, 16, 3)], "attrs": {"begin": (0, 0, 0, 0), "end": (1, 16, 16, 1), "strides": (1, 1, 1, 1)}})

    def applies(self, call: LayerCall) -> str | None:
        if len(call.input.shape) > 4:
            return f"it slices {len(call.input.shape)} axes (ed_strided_slice_s8 takes up to 4)"
        return None

    def _window(self, call: LayerCall) -> tuple[int, ...]:
        p = call.params
        return sliced_shape(p["begin"], p["end"], p["strides"])

    def cost_features(self, call: LayerCall) -> list[float]:
        window = self._window(call)
        return [int(np.prod(window)), int(np.prod(window[:-1])) if window else 1, 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        pad = 4 - len(p["begin"])
        ctx = KernelContext()
        ctx.fields.update(begin=[0] * pad + list(p["begin"]), stride=[1] * pad + list(p["strides"]),
                          window=dims(self._window(call)))
        ctx.comment.append(f"window begin {tuple(p['begin'])} end {tuple(p['end'])} strides {tuple(p['strides'])}")
        return ctx


KERNEL = EdStridedSliceS8()
