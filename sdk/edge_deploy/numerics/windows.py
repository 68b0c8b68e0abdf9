"""Sliding-window arithmetic shared by convolutions and pooling: TFLite's SAME / VALID padding,
output sizes, and gathering every window of an NHWC batch for the NumPy reference kernels."""

from __future__ import annotations

import numpy as np

Padding = tuple[int, int, int, int]  # (top, bottom, left, right), in elements


def window_output_size(size: int, kernel: int, stride: int, dilation: int, mode: str) -> int:
    """Output length of a window of ``kernel`` taps (``dilation`` apart) sliding by ``stride``
    over ``size`` elements with TFLite's ``"same"`` or ``"valid"`` padding (may be < 1 for a
    window that does not fit). Raises ValueError for an unknown mode."""
    effective = (kernel - 1) * dilation + 1
    if mode == "same":
        return (size + stride - 1) // stride
    if mode == "valid":
        return (size - effective + stride) // stride
    raise ValueError(f"unknown padding mode {mode!r}; expected 'same' or 'valid'")


def compute_padding(
    in_hw: tuple[int, int],
    filter_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    mode: str,
) -> tuple[Padding, tuple[int, int]]:
    """TFLite's SAME / VALID padding: returns ``((top, bottom, left, right), (out_h, out_w))``.

    SAME puts the odd extra row / column at the bottom / right, as TFLite does.
    Raises ValueError for an unknown mode or a filter larger than a VALID input.
    """
    pads: list[int] = []
    out: list[int] = []
    for size, k, s, d in zip(in_hw, filter_hw, stride, dilation):
        effective = (k - 1) * d + 1
        out_size = window_output_size(size, k, s, d, mode)
        if out_size < 1:
            raise ValueError(f"filter {effective} is larger than the input {size} with VALID padding")
        total = max((out_size - 1) * s + effective - size, 0)
        pads += [total // 2, total - total // 2]
        out.append(out_size)
    return (pads[0], pads[1], pads[2], pads[3]), (out[0], out[1])


def output_hw(in_hw, filter_hw, stride, dilation, padding: Padding) -> tuple[int, int]:
    """Output height and width of a window over ``in_hw`` with explicit ``padding``.

    Raises ValueError when the window does not fit.
    """
    top, bottom, left, right = padding
    out_h = (in_hw[0] + top + bottom - ((filter_hw[0] - 1) * dilation[0] + 1)) // stride[0] + 1
    out_w = (in_hw[1] + left + right - ((filter_hw[1] - 1) * dilation[1] + 1)) // stride[1] + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"the window does not fit the input {in_hw} with padding {padding}")
    return out_h, out_w


def window_patches(x: np.ndarray, filter_hw, stride, dilation, padding: Padding, pad_value):
    """Gather windows: ``(N, OH, OW, KH, KW, C)`` (int64, or float for float input) and the output size."""
    padding = tuple(int(p) for p in padding)
    out_h, out_w = output_hw(x.shape[1:3], filter_hw, stride, dilation, padding)
    top, bottom, left, right = padding
    values = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.int64)
    xp = np.pad(values, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    rows = np.arange(out_h)[:, None] * stride[0] + np.arange(filter_hw[0])[None, :] * dilation[0]
    cols = np.arange(out_w)[:, None] * stride[1] + np.arange(filter_hw[1])[None, :] * dilation[1]
    return xp[:, rows[:, None, :, None], cols[None, :, None, :], :], (out_h, out_w)
