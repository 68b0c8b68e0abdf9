"""What the sparse-weight kernels share: the ``ed_sparse_weights_s8`` arrays, applicability (a zero
weight zero point) and the cost terms (see :mod:`edge_deploy.kernels._sparse_format`)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edge_deploy.ctext import shape_text
from edge_deploy.kernels._sparse_format import (
    COLUMNS,
    GROUP_SIZES,
    SparseWeights,
    conv_row_elems,
    conv_scratch_bytes,
    encode_sparse,
)
from edge_deploy.kernels._weighted import LAYOUTS, conv_positions, fc_rows, scales_text, weighted_context, zero_weight_offset
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


@lru_cache(maxsize=256)
def _encoded(rows_bytes: bytes, shape: tuple[int, int], group_size: int) -> SparseWeights:
    return encode_sparse(np.frombuffer(rows_bytes, dtype=np.int8).reshape(shape), group_size)


def encoded(call: LayerCall, group_size: int) -> SparseWeights:
    """The layer's weights in the sparse format with groups of ``group_size`` (cached)."""
    rows = np.ascontiguousarray(call.weight_rows, dtype=np.int8)
    return _encoded(rows.tobytes(), rows.shape, group_size)


class SparseWeightsKernel(KernelSpec):
    """A kernel on ``ed_sparse_weights_s8`` weights; ``sparse_format`` is ``group4`` or ``csr``."""

    header = "ed_sparse.h"
    family = "sparse"
    sparse_format: str

    @property
    def group_size(self) -> int:
        return GROUP_SIZES[self.sparse_format]

    def applies(self, call: LayerCall) -> str | None:
        return zero_weight_offset(call)

    def facts(self, call: LayerCall) -> dict:
        rows = call.weight_rows
        groups = np.pad(rows, ((0, 0), (0, (-rows.shape[1]) % 4))).reshape(rows.shape[0], -1, 4)
        zero_groups, total = int((groups == 0).all(axis=2).sum()), int(groups.shape[0] * groups.shape[1])
        return {"group_size": self.group_size, "kept": encoded(call, self.group_size).kept_groups,
                "zero_groups_of_4": zero_groups, "groups_of_4": total,
                "weight_sparsity": round(float((rows == 0).mean()), 4)}

    def worthwhile(self, call: LayerCall) -> str | None:
        stored, dense = encoded(call, self.group_size).nbytes, int(call.weight_rows.size)
        if stored > dense:
            return f"it would store {stored:,} B against the dense {dense:,} B"
        return None

    def context(self, call: LayerCall) -> KernelContext:
        enc = encoded(call, self.group_size)
        wide = enc.indices.dtype == np.uint16
        unit = "group of 4" if self.group_size == 4 else "nonzero weight"
        # Nothing kept (a fully pruned layer): one unused index and group, as C has no empty arrays.
        values = enc.values if enc.kept_groups else np.zeros(self.group_size, np.int8)
        indices = enc.indices if enc.kept_groups else np.zeros(1, enc.indices.dtype)
        w = call.weights
        arrays = [
            CArray("weight_values", "int8_t", values,
                   f"weights {LAYOUTS[call.kind]} {shape_text(w.shape)}, scales {scales_text(call)}: the "
                   f"{enc.kept_groups} kept {unit}s of {enc.row_groups} per row, row after row"),
            CArray("weight_index", "uint16_t" if wide else "uint8_t", indices,
                   f"{unit} number of each kept value (element {self.group_size} * number of its row)"),
            CArray("weight_counts", "uint16_t", enc.row_counts, f"kept {unit}s per output channel"),
        ]
        ctx = weighted_context(call, arrays)
        kept_unit = "groups of 4" if self.group_size == 4 else "weights"
        ctx.comment.append(f"sparse weights ({self.sparse_format}): {enc.kept_groups} of {enc.row_groups} x "
                           f"{ctx.fields['channels']} {kept_unit} kept")
        ctx.fields["sparse"] = {"group_size": self.group_size, "row_groups": enc.row_groups, "wide": wide}
        return ctx


class SparseConv(SparseWeightsKernel):
    """A sparse convolution (group-sparse or CSR)."""

    op = "conv2d"
    # The group-sparse kernel widens a qualifying 1-D layer's input row once and reads it in place
    # (row path); other layers widen four patches per block (patch path): kept groups cost
    # differently on each. A patch of a 1-D window is widened a run at a time; a 2-D or dilated
    # window's is built element by element, each tap checked against the padding
    # (ed_sparse_conv_column), many times slower per element (window_elements, window_taps).
    cost_terms = ("kept_blocks_row_path", "kept_blocks_patch_path", "outputs", "column_elements", "channel_blocks",
                  "calls", "window_elements", "window_taps")

    def _geometry(self, call: LayerCall) -> tuple:
        p = call.params
        return (call.input.shape, call.weights.shape, call.output.shape, p["stride"], p["padding"], p["dilation"])

    def scratch_bytes(self, call: LayerCall) -> int:
        return conv_scratch_bytes(*self._geometry(call))

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        channels = int(call.output.shape[3])
        blocks = -(-positions // COLUMNS) * batches
        row_elems = conv_row_elems(*self._geometry(call)) if self.sparse_format == "group4" else 0
        padded = -(-call.weight_rows.shape[1] // 4) * 4
        columns = batches * row_elems if row_elems else positions * batches * padded
        kept = encoded(call, self.group_size).kept_groups
        row_path = bool(row_elems)
        kh, kw, dilation_w = int(call.weights.shape[1]), int(call.weights.shape[2]), int(call.params["dilation"][1])
        by_element = not row_path and (kh > 1 or dilation_w != 1)
        windows = positions * batches if by_element else 0
        return [kept * blocks if row_path else 0, 0 if row_path else kept * blocks, positions * batches * channels,
                columns, blocks * channels, 1, windows * call.weight_rows.shape[1], windows * kh * kw]


class SparseFullyConnected(SparseWeightsKernel):
    """A sparse fully connected layer (group-sparse or CSR)."""

    op = "fully_connected"
    cost_terms = ("kept_rows", "outputs", "input_elements", "calls")

    @property
    def template(self) -> str:
        return "kernels/ed_fully_connected_sparse_s8.c.j2"  # one call shape for both formats

    def scratch_bytes(self, call: LayerCall) -> int:
        # ed_fully_connected_sparse_s8_get_buffer_size: one widened input row.
        return -(-int(np.prod(call.weights.shape[1:])) // 4) * 4 * 2

    def cost_features(self, call: LayerCall) -> list[float]:
        rows, units = fc_rows(call), int(call.weights.shape[0])
        padded = -(-call.weight_rows.shape[1] // 4) * 4
        kept = encoded(call, self.group_size).kept_groups
        return [rows * kept, rows * units, rows * padded, 1]
