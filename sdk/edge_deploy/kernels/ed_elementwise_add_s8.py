"""``ed_elementwise_add_s8``: edge-deploy's ADD and SUB, once per block of a broadcast
(kernels/_broadcast). TFLite rescales each input, ``(x + offset) << 20`` times its multiplier,
before the sum; that depends on one int8 value only, so the build tables it (doubled) for the 256
values of each input: int32, 2 KB per layer, 3 KB where one input's rescale rounds differently
under single rounding. The C does one SMMLA(R) and a shift per element
(firmware/kernels/ed_elementwise_add_s8.c, which explains the arithmetic)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._binary import BinaryKernel
from edge_deploy.kernels.base import CArray, KernelContext, LayerCall
from edge_deploy.numerics.fixedpoint import multiply_by_quantized_multiplier

BYTES = np.arange(256, dtype=np.uint8).view(np.int8)  # every byte, in the order the C indexes


def rescale_table(params: dict, i: int, rounding: str) -> np.ndarray:
    """Input ``i``'s (1 or 2) rescale of every byte (index: the byte read unsigned) under
    ``rounding``: the ADD reference's per-input step."""
    shifted = (BYTES.astype(np.int64) + params[f"input{i}_offset"]) << params["left_shift"]
    return multiply_by_quantized_multiplier(shifted, params[f"input{i}_mult"], params[f"input{i}_shift"], rounding)


class EdElementwiseAddS8(BinaryKernel):
    name = "ed_elementwise_add_s8"
    family = "tables"  # the flash fallback may take it back
    op = "add"
    header = "ed_elementwise.h"
    out_mult_comment = "sum to output scale (Q31)"

    def serves(self, op_kind: str) -> bool:
        return op_kind in ("add", "sub")

    def tables(self, call: LayerCall) -> tuple[np.ndarray, list[int]]:
        """Both inputs' double-rounding tables, then the single-rounding table of each input
        whose differs, all doubled; and each input's distance to its single-rounding table (0:
        the same)."""
        tables, distances = [rescale_table(call.params, i, "double") for i in (1, 2)], []
        for i in (1, 2):
            single = rescale_table(call.params, i, "single")
            same = np.array_equal(single, tables[i - 1])
            distances.append(0 if same else 256 * (len(tables) - (i - 1)))
            if not same:
                tables.append(single)
        return (2 * np.concatenate(tables)).astype(np.int32), distances

    def input_constants(self, call: LayerCall, ctx: KernelContext) -> None:
        tables, distances = self.tables(call)
        for i, distance in zip((1, 2), distances):
            ctx.constant(f"SINGLE_ROUNDING_{i}", distance,
                         f"input {i}'s single-rounding table, entries after its double-rounding one (0: the same)")
        ctx.arrays.append(CArray("tables", "int32_t", tables,
                                 f"{call.kind}: input 1's rescale ((x + offset) << {call.params['left_shift']} times "
                                 "its multiplier), doubled, of every byte (index: the byte read unsigned), then input 2's"
                                 + ("; then the single-rounding ones that differ" if tables.size > 512 else "")))


KERNEL = EdElementwiseAddS8()
