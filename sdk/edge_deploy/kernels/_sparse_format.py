"""Sparse weights for the firmware: the format of ``firmware/include/ed_sparse.h`` (encode,
decode) and the geometry the sparse convolutions' scratch depends on, shared by the sparse
kernel specs.

The sparsity is read from the int8 weights themselves (Scalpel's zeroed groups survive BatchNorm
folding, quantization and ``.tflite`` export), so a pruned ``.tflite`` from anywhere benefits.
Rows are the dense kernels' consumption order: one row per output channel, OHWI flattened
((kh, kw, cin)) for a conv, the input features for a fully connected layer; groups are
``group_size`` consecutive elements from the row's start, as in ``edge_deploy.slim.scalpel``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUP_SIZES = {"group4": 4, "csr": 1}
COLUMNS = 4  # output positions per block in the sparse conv kernels (ED_SPARSE_COLUMNS)


@dataclass(frozen=True)
class SparseWeights:
    """A weight matrix in the ``ed_sparse_weights_s8`` format.

    ``row_counts`` (uint16, one per row): kept groups; ``indices`` (uint8 when a row has at most
    256 groups, else uint16): kept group numbers row after row; ``values`` (int8):
    ``group_size`` weights per kept group, the last group of a row zero-padded.
    """

    group_size: int
    row_groups: int
    row_counts: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    @property
    def kept_groups(self) -> int:
        """Groups stored (holding at least one nonzero weight)."""
        return int(self.indices.size)

    @property
    def nbytes(self) -> int:
        """Flash bytes of the three arrays."""
        return int(self.row_counts.nbytes + self.indices.nbytes + self.values.nbytes)


def kernel_rows(weights: np.ndarray, kind: str) -> np.ndarray:
    """The int8 weights of a ``conv2d`` (OHWI) or ``fully_connected`` ((out, in)) op as the
    kernels read them: ``(output channels, row length)``."""
    w = np.asarray(weights)
    return w.reshape(w.shape[0], -1)


def _groups(rows: np.ndarray, group_size: int) -> np.ndarray:
    pad = (-rows.shape[1]) % group_size
    padded = np.pad(rows, ((0, 0), (0, pad))) if pad else rows
    return padded.reshape(rows.shape[0], -1, group_size)


def encode_sparse(rows: np.ndarray, group_size: int) -> SparseWeights:
    """Encode int8 ``rows`` (output channel, row length) in groups of ``group_size`` (4 or 1);
    all-zero groups are dropped. Raises ValueError on another group size or a row too long for
    16-bit group numbers."""
    if group_size not in (1, 4):
        raise ValueError(f"group size {group_size}: the sparse kernels take 4 or 1")
    groups = _groups(np.asarray(rows, dtype=np.int8), group_size)
    row_groups = groups.shape[1]
    if row_groups > 65536:
        raise ValueError(f"a row of {row_groups} groups does not fit 16-bit group numbers")
    kept = (groups != 0).any(axis=2)
    counts = kept.sum(axis=1).astype(np.uint16)
    _, cols = np.nonzero(kept)  # row-major: row after row, groups ascending
    index_type = np.uint8 if row_groups <= 256 else np.uint16
    return SparseWeights(group_size=group_size, row_groups=row_groups, row_counts=counts,
                         indices=cols.astype(index_type), values=groups[kept].reshape(-1).astype(np.int8))


def decode_sparse(weights: SparseWeights, row_length: int) -> np.ndarray:
    """The dense ``(rows, row_length)`` int8 matrix ``weights`` encodes (the inverse of
    :func:`encode_sparse`)."""
    rows = len(weights.row_counts)
    dense = np.zeros((rows, weights.row_groups, weights.group_size), dtype=np.int8)
    row_of = np.repeat(np.arange(rows), weights.row_counts.astype(np.int64))
    dense[row_of, weights.indices.astype(np.int64)] = weights.values.reshape(-1, weights.group_size)
    return dense.reshape(rows, -1)[:, :row_length]


def conv_row_elems(in_shape, w_shape, out_shape, stride, padding, dilation) -> int:
    """Elements of the input row the group-sparse conv widens once per call
    (``ed_sparse_row_elems``): nonzero for a 1-D conv (NHWC ``in_shape``, OHWI ``w_shape``, NHWC
    ``out_shape`` one row each) whose windows start on groups of four elements and whose
    position stride ``2 * stride * cin`` bytes is 16 to 256; ``stride`` / ``dilation`` (h, w),
    ``padding`` (top, bottom, left, right)."""
    _, in_h, _, cin = in_shape
    _, kh, kw, _ = w_shape
    out_h, out_w = out_shape[1], out_shape[2]
    step, blocks = stride[1] * cin, -(-out_w // 4) * 4
    if (in_h == 1 and kh == 1 and out_h == 1 and padding[0] == 0 and dilation[1] == 1 and blocks > 0
            and step in (8, 16, 32, 64, 128) and (padding[2] * cin) % 4 == 0 and (kw * cin) % 4 == 0):
        return ((blocks - 1) * stride[1] + kw) * cin
    return 0


def conv_scratch_bytes(in_shape, w_shape, out_shape, stride, padding, dilation) -> int:
    """Bytes of ``ed_convolve_sparse_s8_get_buffer_size`` (``ed_sparse.h``) for a conv (arguments
    as :func:`conv_row_elems`): four widened patches, the widened input row, and per output
    channel a 24-byte table entry and four output bytes."""
    padded = -(-int(np.prod(w_shape[1:])) // 4) * 4
    row = conv_row_elems(in_shape, w_shape, out_shape, stride, padding, dilation)
    return (4 * padded + row) * 2 + (24 + 4) * int(w_shape[0])
