"""Winograd F(4,3) along the rows of a convolution: the geometry and the build-time filter
transform of ``firmware/include/ed_winograd.h``, shared by the two Winograd kernel specs.

A convolution with dilation 1 (any stride, padding and kernel width; 1-D, or 2-D with any
filter height) is run as a stride-1, 3-tap convolution along the rows over "virtual channels"
(the stride's phases side by side, the taps cut into segments of three, the filter rows one
after another), and every four outputs of a segment take six multiplies instead of twelve. The
header explains the method and the layout; this module produces the transformed filter (int16
pairs packed in uint32 words).

Exactness: the transformed filter is ``24 G g`` (integers), the transformed inputs ``Bt d``
(integers), and the firmware divides ``At M`` by 24 exactly, so the outputs are bit-exact with
``arm_convolve_s8`` and the reference interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# 24 G: the filter transform of F(4,3), scaled so that every entry is an integer.
G24 = np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]], dtype=np.int64)
# R * K * C (filter rows x taps x channels) above which 24 |y| could leave int32 (ED_WINOGRAD_MAX_KC).
MAX_KC = 2740


@dataclass(frozen=True)
class WinogradGeometry:
    """``ed_winograd_geometry`` of a layer: filter rows, segments of three taps per row, virtual
    channels per segment (``group``, a multiple of 4), channel pairs of a row and of the whole
    filter, output-channel blocks of four, filter words."""

    kernel: int
    channels: int
    stride: int
    out_channels: int
    rows: int
    segments: int
    group: int
    row_pairs: int
    pairs: int
    blocks: int

    @property
    def weight_words(self) -> int:
        """uint32 words of the transformed filter."""
        return self.blocks * 6 * self.pairs * 4

    @property
    def weight_bytes(self) -> int:
        """Flash bytes of the transformed filter."""
        return self.weight_words * 4

    @property
    def scratch_bytes(self) -> int:
        """``ed_convolve_winograd_s8_get_buffer_size``: V of two tiles over every filter row."""
        return 6 * self.pairs * 2 * 4


def geometry(kernel: int, channels: int, out_channels: int, stride: int, rows: int = 1) -> WinogradGeometry:
    """The transform's geometry for a layer of ``rows`` filter rows of ``kernel`` taps over
    ``channels`` input channels, at ``stride`` along the rows (raises ValueError when the kernel
    cannot take it; see :func:`unsupported`)."""
    if kernel < 1 or channels < 1 or out_channels < 1 or stride < 1 or rows < 1:
        raise ValueError(f"no Winograd geometry for kernel {rows}x{kernel}, channels {channels}, stride {stride}")
    taps = -(-kernel // stride)
    segments = -(-taps // 3)
    group = -(-(stride * channels) // 4) * 4
    row_pairs = segments * group // 2
    return WinogradGeometry(kernel=kernel, channels=channels, stride=stride, out_channels=out_channels, rows=rows,
                            segments=segments, group=group, row_pairs=row_pairs, pairs=rows * row_pairs,
                            blocks=-(-out_channels // 4))


def unsupported(input_shape, filter_shape, output_shape, stride, dilation) -> str | None:
    """Why ``ed_convolve_winograd_s8`` cannot run a conv2d (NHWC input, OHWI filter), or None.
    ``stride`` and ``dilation`` are (h, w)."""
    if tuple(dilation) != (1, 1):
        return f"dilation {tuple(dilation)} (the kernel takes 1)"
    rows, kernel, channels = filter_shape[1:4]
    if rows * kernel * channels > MAX_KC:
        return f"filter rows x kernel x channels {rows * kernel * channels} > {MAX_KC} (int32 headroom)"
    return None


def transform_filter(weights: np.ndarray, stride: int) -> np.ndarray:
    """The transformed filter of an OHWI int8 conv2d weight (stride along the rows), as the
    uint32 words of ``ed_winograd.h``'s layout."""
    w = np.asarray(weights, dtype=np.int64)
    if w.ndim != 4:
        raise ValueError(f"expected an OHWI filter, got shape {w.shape}")
    cout, rows, kernel, cin = w.shape
    geo = geometry(kernel, cin, cout, stride, rows)
    segments = rows * geo.segments  # segments of every filter row, row after row
    # Taps per (output channel, segment, virtual channel, tap of the segment); zero where the
    # virtual channel is padding or the tap lies past the kernel.
    taps = np.zeros((geo.blocks * 4, segments, geo.group, 3), dtype=np.int64)
    for r in range(rows):
        for q in range(geo.segments):
            for kk in range(3):
                for phase in range(stride):
                    k = (3 * q + kk) * stride + phase
                    if k < kernel:
                        taps[:cout, r * geo.segments + q, phase * cin:(phase + 1) * cin, kk] = w[:, r, k, :]
    u = taps @ G24.T  # (oc, segment, virtual channel, component j)
    # Virtual channel e of each group of four goes to pair 2g + (e & 1), half e >> 1.
    u = u.reshape(geo.blocks, 4, segments, geo.group // 4, 2, 2, 6)  # block, o, q, g, half, e&1, j
    u = u.transpose(0, 6, 2, 3, 5, 1, 4)  # block, j, q, g, e&1, o, half
    u = u.reshape(geo.blocks, 6, geo.pairs, 4, 2)
    if np.abs(u).max(initial=0) > 32767:
        raise ValueError("transformed filter leaves int16 (weights outside int8?)")
    lo = (u[..., 0] & 0xFFFF).astype(np.uint32)
    hi = (u[..., 1] & 0xFFFF).astype(np.uint32)
    return (lo | (hi << 16)).reshape(-1)
