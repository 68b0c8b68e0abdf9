"""Winograd F(4,3) for 1-D convolutions: the build-time filter transform of
``firmware/include/ed_winograd.h`` and the choice between it and ``arm_convolve_s8``.

A 1-D convolution (height 1 everywhere, dilation 1, any stride, padding and kernel length) is
run as a stride-1, 3-tap convolution over "virtual channels" (the stride's phases side by side,
the taps cut into segments of three), and every four outputs of a segment take six multiplies
instead of twelve. The header explains the method and the layout; this module produces the
transformed filter (int16 pairs packed in uint32 words) and models the kernel's cycles.

Exactness: the transformed filter is ``24 G g`` (integers), the transformed inputs ``Bt d``
(integers), and the firmware divides ``At M`` by 24 exactly, so the outputs are bit-exact with
``arm_convolve_s8`` and the reference interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# 24 G: the filter transform of F(4,3), scaled so that every entry is an integer.
G24 = np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]], dtype=np.int64)
# K * C above which 24 |y| could leave int32 (ED_WINOGRAD_MAX_KC).
MAX_KC = 2740
WINOGRAD_MODES = ("auto", "off", "force")
KERNEL = "ed_convolve_1d_winograd_s8"
# The same with a following max pool (window 2, stride 2) fused in (edge_deploy.codegen.layers).
POOL_KERNEL = "ed_convolve_1d_winograd_maxpool2_s8"


@dataclass(frozen=True)
class WinogradGeometry:
    """``ed_winograd_geometry`` of a layer: segments of three taps, virtual channels per segment
    (``group``, a multiple of 4), channel pairs, output-channel blocks of four, filter words."""

    kernel: int
    channels: int
    stride: int
    out_channels: int
    segments: int
    group: int
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
        """``ed_convolve_1d_winograd_s8_get_buffer_size``: V of two tiles."""
        return 6 * self.pairs * 2 * 4


def geometry(kernel: int, channels: int, out_channels: int, stride: int) -> WinogradGeometry:
    """The transform's geometry for a 1-D layer of ``kernel`` taps over ``channels`` input
    channels (raises ValueError when the kernel cannot take it; see :func:`unsupported`)."""
    if kernel < 1 or channels < 1 or out_channels < 1 or stride < 1:
        raise ValueError(f"no Winograd geometry for kernel {kernel}, channels {channels}, stride {stride}")
    taps = -(-kernel // stride)
    segments = -(-taps // 3)
    group = -(-(stride * channels) // 4) * 4
    return WinogradGeometry(kernel=kernel, channels=channels, stride=stride, out_channels=out_channels,
                            segments=segments, group=group, pairs=segments * group // 2,
                            blocks=-(-out_channels // 4))


def unsupported(input_shape, filter_shape, output_shape, stride, dilation) -> str | None:
    """Why ``ed_convolve_1d_winograd_s8`` cannot run a conv2d (NHWC input, OHWI filter), or None.
    ``stride`` and ``dilation`` are (h, w)."""
    if input_shape[1] != 1 or filter_shape[1] != 1 or output_shape[1] != 1:
        return "not a 1-D convolution (height is not 1)"
    if dilation[1] != 1:
        return f"dilation {dilation[1]} (the kernel takes 1)"
    if filter_shape[2] * filter_shape[3] > MAX_KC:
        return f"kernel x channels {filter_shape[2] * filter_shape[3]} > {MAX_KC} (int32 headroom)"
    return None


def transform_filter(weights: np.ndarray, stride: int) -> np.ndarray:
    """The transformed filter of an OHWI int8 conv2d weight of height 1, as the uint32 words of
    ``ed_winograd.h``'s layout."""
    w = np.asarray(weights, dtype=np.int64)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"expected an OHWI filter of height 1, got shape {w.shape}")
    cout, _, kernel, cin = w.shape
    geo = geometry(kernel, cin, cout, stride)
    # Taps per (output channel, segment, virtual channel, tap of the segment); zero where the
    # virtual channel is padding or the tap lies past the kernel.
    taps = np.zeros((geo.blocks * 4, geo.segments, geo.group, 3), dtype=np.int64)
    for q in range(geo.segments):
        for kk in range(3):
            for phase in range(stride):
                k = (3 * q + kk) * stride + phase
                if k < kernel:
                    taps[:cout, q, phase * cin:(phase + 1) * cin, kk] = w[:, 0, k, :]
    u = taps @ G24.T  # (oc, segment, virtual channel, component j)
    # Virtual channel e of each group of four goes to pair 2g + (e & 1), half e >> 1.
    u = u.reshape(geo.blocks, 4, geo.segments, geo.group // 4, 2, 2, 6)  # block, o, q, g, half, e&1, j
    u = u.transpose(0, 6, 2, 3, 5, 1, 4)  # block, j, q, g, e&1, o, half
    u = u.reshape(geo.blocks, 6, geo.pairs, 4, 2)
    if np.abs(u).max(initial=0) > 32767:
        raise ValueError("transformed filter leaves int16 (weights outside int8?)")
    lo = (u[..., 0] & 0xFFFF).astype(np.uint32)
    hi = (u[..., 1] & 0xFFFF).astype(np.uint32)
    return (lo | (hi << 16)).reshape(-1)


# Cortex-M4 model cycles of the kernel's parts (P = 2, 0 wait states), fitted to the profiler's
# cycle model on QEMU for TICNN's five convolutions (within 1 % for full tile pairs, 6 % low
# when the last pair of tiles is partial; tests/test_winograd_kernel.py checks one layer).
_CYCLES_PER_PAIR = 17.0  # one virtual channel pair of one component: 8 SMLAD, 6 loads
_CYCLES_PER_BLOCK = 1096.0  # per block of 4 channels and pair of tiles: set-ups, 32 outputs
_CYCLES_PER_BLOCK_POOLED = 860.0  # the same with the max pool fused (16 outputs)
_CYCLES_PER_GROUP = 160.0  # input transform of four virtual channels of one tile


def estimate_cycles(geo: WinogradGeometry, out_width: int, *, pooled: bool = False) -> int:
    """Modelled Cortex-M4 cycles of ``ed_convolve_1d_winograd_s8`` on one input (``pooled``:
    ``ed_convolve_1d_winograd_maxpool2_s8``; ``out_width`` is the convolution's)."""
    tile_pairs = -(-out_width // 8)
    block = _CYCLES_PER_BLOCK_POOLED if pooled else _CYCLES_PER_BLOCK
    gemm = tile_pairs * geo.blocks * (6 * geo.pairs * _CYCLES_PER_PAIR + block)
    inputs = tile_pairs * 2 * geo.segments * (geo.group // 4) * _CYCLES_PER_GROUP
    return int(gemm + inputs)


# arm_convolve_s8's DSP path, fitted the same way: the 2 x 2 inner loop per MAC, requantization
# and packing per output, the widened column per position and patch byte.
_DIRECT_CYCLES_PER_MAC = 1.40
_DIRECT_CYCLES_PER_OUTPUT = 27.0
_DIRECT_CYCLES_PER_COLUMN_BYTE = 4.0


def estimate_direct_cycles(macs: int, outputs: int, column_bytes: int = 0) -> int:
    """Modelled Cortex-M4 cycles of ``arm_convolve_s8`` (DSP path) for a layer: ``column_bytes``
    is positions x patch length."""
    return int(macs * _DIRECT_CYCLES_PER_MAC + outputs * _DIRECT_CYCLES_PER_OUTPUT
               + column_bytes * _DIRECT_CYCLES_PER_COLUMN_BYTE)


@dataclass(frozen=True)
class WinogradChoice:
    """Whether a conv2d layer runs ``ed_convolve_1d_winograd_s8`` and why."""

    use: bool
    reason: str
    geometry: WinogradGeometry | None = None
    estimated_cycles: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``layers[].winograd`` record of report.json."""
        out: dict[str, Any] = {"use": self.use, "reason": self.reason}
        if self.geometry is not None:
            out["weights_bytes"] = self.geometry.weight_bytes
            out["scratch_bytes"] = self.geometry.scratch_bytes
        if self.estimated_cycles:
            out["estimated_cycles"] = dict(sorted(self.estimated_cycles.items()))
        return out


def choose(input_shape, filter_shape, output_shape, stride, dilation, macs: int, mode: str) -> WinogradChoice:
    """Pick Winograd or the direct kernel for a dense conv2d layer. ``mode``: ``auto`` (the one
    with fewer modelled cycles), ``off`` or ``force`` (Winograd wherever the kernel can run)."""
    if mode == "off":
        return WinogradChoice(False, "--winograd off")
    why_not = unsupported(input_shape, filter_shape, output_shape, stride, dilation)
    if why_not is not None:
        return WinogradChoice(False, why_not)
    geo = geometry(filter_shape[2], filter_shape[3], filter_shape[0], stride[1])
    out_width = output_shape[2]
    costs = {"winograd": estimate_cycles(geo, out_width),
             "direct": estimate_direct_cycles(macs, out_width * output_shape[3],
                                              out_width * filter_shape[2] * filter_shape[3])}
    if mode == "force":
        return WinogradChoice(True, "--winograd force", geo, costs)
    if costs["winograd"] < costs["direct"]:
        return WinogradChoice(True, f"winograd: {costs['winograd']:,} vs direct {costs['direct']:,} cycles (modelled)",
                              geo, costs)
    return WinogradChoice(False, f"direct: {costs['direct']:,} vs winograd {costs['winograd']:,} cycles (modelled)",
                          geo, costs)
