"""Sparse weights for the firmware: detect zero weight groups in the int8 weights, encode them in
the format of ``firmware/include/ed_sparse.h``, and choose per layer between the dense CMSIS-NN
kernel and edge-deploy's sparse kernels by the instructions each would execute.

The sparsity is read from the int8 weights themselves (Scalpel's zeroed groups survive BatchNorm
folding, quantization and ``.tflite`` export), so a pruned ``.tflite`` from anywhere benefits.
Rows are the dense kernels' consumption order: one row per output channel, OHWI flattened
((kh, kw, cin)) for a conv, the input features for a fully connected layer; groups are
``group_size`` consecutive elements from the row's start, as in ``edge_deploy.slim.scalpel``.

Candidates per conv2d / fully_connected layer:

* ``dense``: ``arm_convolve_s8`` / ``arm_fully_connected_*_s8``;
* ``group4``: ``ed_convolve_group_sparse_s8`` / ``ed_fully_connected_group_sparse_s8``, one index
  per kept group of 4 (SMLAD on the kept words);
* ``csr``: ``ed_convolve_csr_s8`` / ``ed_fully_connected_csr_s8``, one index per nonzero weight.

Costs come from :mod:`edge_deploy.codegen.sparse_cost` (instructions modelled from the kept-group
count, coefficients measured on QEMU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_deploy.codegen.sparse_cost import LayerShape, estimate_instructions
from edge_deploy.errors import EdgeDeployError

SPARSE_MODES = ("auto", "off", "force", "force-group4", "force-csr")
SPARSE_KERNELS = {
    ("conv2d", "group4"): "ed_convolve_group_sparse_s8",
    ("conv2d", "csr"): "ed_convolve_csr_s8",
    ("fully_connected", "group4"): "ed_fully_connected_group_sparse_s8",
    ("fully_connected", "csr"): "ed_fully_connected_csr_s8",
}
GROUP_SIZES = {"group4": 4, "csr": 1}
# The group-sparse conv with the max pool (window 2, stride 2) after it fused in.
SPARSE_POOL_KERNEL = "ed_convolve_group_sparse_maxpool2_s8"


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


@dataclass(frozen=True)
class SparsityChoice:
    """The kernel chosen for one weighted layer and why.

    ``choice`` is ``dense``, ``group4`` or ``csr``; ``estimated_instructions`` the model's
    figure for every candidate; ``zero_groups``/``total_groups`` the group-of-4 sparsity and
    ``zero_weights``/``total_weights`` the element sparsity of the int8 weights.
    """

    choice: str
    reason: str
    zero_groups: int
    total_groups: int
    zero_weights: int
    total_weights: int
    estimated_instructions: dict[str, int] = field(default_factory=dict)
    weights_bytes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``layers[].sparsity`` record of report.json."""
        return {
            "choice": self.choice, "reason": self.reason,
            "group_size": GROUP_SIZES.get(self.choice, 0),
            "zero_groups": self.zero_groups, "total_groups": self.total_groups,
            "group_sparsity": round(self.zero_groups / self.total_groups, 4) if self.total_groups else 0.0,
            "zero_weights": self.zero_weights, "total_weights": self.total_weights,
            "weight_sparsity": round(self.zero_weights / self.total_weights, 4) if self.total_weights else 0.0,
            "estimated_instructions": dict(sorted(self.estimated_instructions.items())),
            "weights_bytes": dict(sorted(self.weights_bytes.items())),
        }


def choose_kernel(kind: str, rows: np.ndarray, shape: LayerShape, mode: str, *,
                  filter_offset: int = 0) -> SparsityChoice:
    """Pick the kernel for a ``conv2d`` or ``fully_connected`` layer with int8 weight ``rows``.

    ``mode``: ``off`` always dense; ``auto`` the candidate with the fewest modelled
    instructions, as long as its weights take no more flash than the dense ones; ``force`` the cheaper sparse kernel even when dense would be faster (for
    tests and comparisons); ``force-group4`` / ``force-csr`` that one sparse kernel. A nonzero weight zero point (``filter_offset``) keeps it dense.
    Raises EdgeDeployError on an unknown mode.
    """
    if mode not in SPARSE_MODES:
        raise EdgeDeployError(f"unknown --sparse mode '{mode}'", hint=f"use one of: {', '.join(SPARSE_MODES)}")
    groups4 = _groups(rows, 4)
    zero_groups = int((groups4 == 0).all(axis=2).sum())
    total_groups = int(groups4.shape[0] * groups4.shape[1])
    zero_weights = int((rows == 0).sum())
    stats = dict(zero_groups=zero_groups, total_groups=total_groups, zero_weights=zero_weights,
                 total_weights=int(rows.size))
    encoded = {name: encode_sparse(rows, size) for name, size in GROUP_SIZES.items()}
    costs = {"dense": estimate_instructions(kind, "dense", shape, int(rows.size))}
    for name, enc in encoded.items():
        costs[name] = estimate_instructions(kind, name, shape, enc.kept_groups)
    sizes = {"dense": int(rows.size), **{name: enc.nbytes for name, enc in encoded.items()}}
    if mode == "off":
        return SparsityChoice("dense", "--sparse off", estimated_instructions=costs, weights_bytes=sizes, **stats)
    if filter_offset != 0:
        return SparsityChoice("dense", "weight zero point is not 0: zeros are not absent weights",
                              estimated_instructions=costs, weights_bytes=sizes, **stats)
    best_sparse = min(("group4", "csr"), key=lambda name: (costs[name], name))
    if mode.startswith("force-"):
        kernel = mode.split("-", 1)[1]
        return SparsityChoice(kernel, f"--sparse {mode} ({costs[kernel]:,} vs dense {costs['dense']:,} instructions, "
                              "modelled)", estimated_instructions=costs, weights_bytes=sizes, **stats)
    if mode == "force":
        return SparsityChoice(best_sparse, f"--sparse force: {best_sparse} is the cheaper sparse kernel "
                              f"({costs[best_sparse]:,} vs dense {costs['dense']:,} instructions, modelled)",
                              estimated_instructions=costs, weights_bytes=sizes, **stats)
    if sizes[best_sparse] > sizes["dense"]:
        reason = (f"dense: {best_sparse} would store {sizes[best_sparse]:,} B against {sizes['dense']:,} B "
                  f"({zero_groups}/{total_groups} groups of 4 zero)")
        return SparsityChoice("dense", reason, estimated_instructions=costs, weights_bytes=sizes, **stats)
    if costs[best_sparse] < costs["dense"]:
        reason = (f"{best_sparse}: {costs[best_sparse]:,} instructions vs dense {costs['dense']:,} (modelled), "
                  f"{zero_groups}/{total_groups} groups of 4 zero")
        return SparsityChoice(best_sparse, reason, estimated_instructions=costs, weights_bytes=sizes, **stats)
    reason = (f"dense: {costs['dense']:,} instructions vs {best_sparse} {costs[best_sparse]:,} (modelled), "
              f"{zero_groups}/{total_groups} groups of 4 zero")
    return SparsityChoice("dense", reason, estimated_instructions=costs, weights_bytes=sizes, **stats)
