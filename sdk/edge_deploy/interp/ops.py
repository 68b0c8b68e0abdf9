"""Reference int8 kernels, one function per op, bit-exact with TFLite's reference kernels.

The parameters mirror the CMSIS-NN s8 API so a C kernel can be tested against these functions
argument for argument:

* ``input_offset = -input_zero_point`` and ``output_offset = output_zero_point``;
* per-channel ``out_mult`` / ``out_shift`` (int32 arrays, one entry per output channel, from
  :func:`edge_deploy.quantize.fixedpoint.quantize_multiplier`), or scalars for per-tensor;
* ``act_min`` / ``act_max`` the fused activation range in the output's int8 domain;
* ``padding`` is ``(top, bottom, left, right)`` in elements (see :func:`compute_padding`);
* ``rounding`` is ``"double"`` (TFLM / CMSIS-NN) or ``"single"``.

Tensors are NumPy arrays in TFLite layout: activations NHWC (a batch of N runs at once), conv
weights OHWI, depthwise weights 1HWO, fully connected weights (out, in). Inputs are int8 arrays;
outputs are int8 arrays.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.interp.softmax import softmax_s8
from edge_deploy.quantize.fixedpoint import multiply_by_quantized_multiplier, saturate, wrap_int32

__all__ = [
    "compute_padding",
    "conv2d_s8",
    "depthwise_conv2d_s8",
    "fully_connected_s8",
    "max_pool_s8",
    "avg_pool_s8",
    "add_s8",
    "softmax_s8",
    "pad_s8",
    "mean_s8",
    "mean_multiplier",
]

Padding = tuple[int, int, int, int]


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
        if mode == "same":
            out_size = (size + s - 1) // s
        elif mode == "valid":
            out_size = (size - effective + s) // s
            if out_size < 1:
                raise ValueError(f"filter {effective} is larger than the input {size} with VALID padding")
        else:
            raise ValueError(f"unknown padding mode {mode!r}; expected 'same' or 'valid'")
        total = max((out_size - 1) * s + effective - size, 0)
        pads += [total // 2, total - total // 2]
        out.append(out_size)
    return (pads[0], pads[1], pads[2], pads[3]), (out[0], out[1])


def _output_hw(in_hw, filter_hw, stride, dilation, padding: Padding) -> tuple[int, int]:
    top, bottom, left, right = padding
    out_h = (in_hw[0] + top + bottom - ((filter_hw[0] - 1) * dilation[0] + 1)) // stride[0] + 1
    out_w = (in_hw[1] + left + right - ((filter_hw[1] - 1) * dilation[1] + 1)) // stride[1] + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"the window does not fit the input {in_hw} with padding {padding}")
    return out_h, out_w


def window_patches(x: np.ndarray, filter_hw, stride, dilation, padding: Padding, pad_value: int):
    """Gather windows: ``(N, OH, OW, KH, KW, C)`` (int64, or float for float input) and the output size."""
    padding = tuple(int(p) for p in padding)
    out_h, out_w = _output_hw(x.shape[1:3], filter_hw, stride, dilation, padding)
    top, bottom, left, right = padding
    values = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.int64)
    xp = np.pad(values, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    rows = np.arange(out_h)[:, None] * stride[0] + np.arange(filter_hw[0])[None, :] * dilation[0]
    cols = np.arange(out_w)[:, None] * stride[1] + np.arange(filter_hw[1])[None, :] * dilation[1]
    return xp[:, rows[:, None, :, None], cols[None, :, None, :], :], (out_h, out_w)


def _requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding) -> np.ndarray:
    scaled = multiply_by_quantized_multiplier(wrap_int32(acc), out_mult, out_shift, rounding)
    return saturate(scaled + output_offset, act_min, act_max)


def conv2d_s8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    input_offset: int,
    output_offset: int,
    out_mult,
    out_shift,
    stride: tuple[int, int] = (1, 1),
    padding: Padding = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """CONV_2D, int8 per-channel (``arm_convolve_s8``): NHWC x, OHWI w, int32 bias -> NHWC int8.

    Padded positions contribute nothing (they hold the input zero point). A Conv1D is this with
    height 1. Raises ValueError when the shapes disagree.
    """
    if x.ndim != 4 or w.ndim != 4 or x.shape[3] != w.shape[3]:
        raise ValueError(f"conv2d_s8: input {x.shape} and OHWI weights {w.shape} do not match")
    patches, (out_h, out_w) = window_patches(x, w.shape[1:3], stride, dilation, padding, -int(input_offset))
    n = x.shape[0]
    cols = (patches + int(input_offset)).reshape(n * out_h * out_w, -1)
    acc = cols @ w.astype(np.int64).reshape(w.shape[0], -1).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    out = _requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)
    return out.reshape(n, out_h, out_w, w.shape[0])


def depthwise_conv2d_s8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    input_offset: int,
    output_offset: int,
    out_mult,
    out_shift,
    stride: tuple[int, int] = (1, 1),
    padding: Padding = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """DEPTHWISE_CONV_2D, int8 per-channel (``arm_depthwise_conv_s8``): 1HWO weights.

    The depth multiplier is ``O // C_in``; output channel ``o`` reads input channel ``o // mult``.
    Raises ValueError when the shapes disagree.
    """
    if x.ndim != 4 or w.ndim != 4 or w.shape[0] != 1 or w.shape[3] % x.shape[3] != 0:
        raise ValueError(f"depthwise_conv2d_s8: input {x.shape} and 1HWO weights {w.shape} do not match")
    multiplier = w.shape[3] // x.shape[3]
    patches, _ = window_patches(x, w.shape[1:3], stride, dilation, padding, -int(input_offset))
    patches = patches + int(input_offset)
    if multiplier > 1:
        patches = np.repeat(patches, multiplier, axis=-1)
    acc = np.einsum("nhwijo,ijo->nhwo", patches, w[0].astype(np.int64))
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return _requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)


def fully_connected_s8(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    *,
    input_offset: int,
    output_offset: int,
    out_mult,
    out_shift,
    filter_offset: int = 0,
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """FULLY_CONNECTED, int8 (``arm_fully_connected_s8``): x reshaped to ``(-1, in)``, w ``(out, in)``.

    ``out_mult`` / ``out_shift`` are scalars (per-tensor) or one per output unit (per-channel).
    Returns ``(rows, out)`` int8. Raises ValueError when the sizes disagree.
    """
    if w.ndim != 2 or x.size % w.shape[1] != 0:
        raise ValueError(f"fully_connected_s8: input {x.shape} does not match weights {w.shape}")
    rows = x.reshape(-1, w.shape[1]).astype(np.int64) + int(input_offset)
    acc = rows @ (w.astype(np.int64) + int(filter_offset)).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return _requantize(acc, out_mult, out_shift, output_offset, act_min, act_max, rounding)


def max_pool_s8(
    x: np.ndarray,
    *,
    filter_hw: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding = (0, 0, 0, 0),
    act_min: int = -128,
    act_max: int = 127,
) -> np.ndarray:
    """MAX_POOL_2D, int8 (``arm_max_pool_s8``): max over the in-bounds part of each window."""
    patches, _ = window_patches(x, filter_hw, stride, (1, 1), padding, pad_value=-(2**40))
    return saturate(patches.max(axis=(3, 4)), act_min, act_max)


def avg_pool_s8(
    x: np.ndarray,
    *,
    filter_hw: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding = (0, 0, 0, 0),
    act_min: int = -128,
    act_max: int = 127,
) -> np.ndarray:
    """AVERAGE_POOL_2D, int8 (``arm_avgpool_s8``): in-bounds mean, rounded half away from zero.

    Padding is excluded from the count, as in TFLite.
    """
    patches, _ = window_patches(x, filter_hw, stride, (1, 1), padding, pad_value=0)
    ones = np.ones((1,) + x.shape[1:3] + (1,), dtype=np.int64)
    counts, _ = window_patches(ones, filter_hw, stride, (1, 1), padding, pad_value=0)
    total = patches.sum(axis=(3, 4))
    count = counts.sum(axis=(3, 4))
    return saturate(_round_div(total, count), act_min, act_max)


def _round_div(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    # C: acc > 0 ? (acc + n/2) / n : (acc - n/2) / n, with '/' truncating toward zero.
    half = count // 2
    return np.where(total > 0, (total + half) // count, -((-total + half) // count))


def add_s8(
    a: np.ndarray,
    b: np.ndarray,
    *,
    input1_offset: int,
    input1_mult: int,
    input1_shift: int,
    input2_offset: int,
    input2_mult: int,
    input2_shift: int,
    left_shift: int,
    output_offset: int,
    out_mult: int,
    out_shift: int,
    act_min: int = -128,
    act_max: int = 127,
    rounding: str = "double",
) -> np.ndarray:
    """ADD, int8 (``arm_elementwise_add_s8``), with NumPy broadcasting of ``a`` against ``b``.

    Each input is offset, shifted left by ``left_shift`` (20 in TFLite), rescaled to a common
    scale, summed and rescaled to the output; all shifts here are <= 0.
    """
    def rescale(v, mult, shift):
        return multiply_by_quantized_multiplier(v, mult, shift, rounding)

    a1 = (a.astype(np.int64) + int(input1_offset)) << int(left_shift)
    b1 = (b.astype(np.int64) + int(input2_offset)) << int(left_shift)
    total = wrap_int32(rescale(a1, input1_mult, input1_shift) + rescale(b1, input2_mult, input2_shift))
    return saturate(rescale(total, out_mult, out_shift) + int(output_offset), act_min, act_max)


def pad_s8(x: np.ndarray, paddings, pad_value: int) -> np.ndarray:
    """PAD / PADV2, int8: ``paddings`` is one ``(before, after)`` pair per dimension.

    ``pad_value`` is the output zero point for PAD (a real 0), or PADV2's constant.
    """
    return np.pad(x, [tuple(int(v) for v in p) for p in paddings], constant_values=int(pad_value)).astype(np.int8)


def mean_s8(
    x: np.ndarray,
    *,
    in_shape: tuple[int, ...],
    axis: tuple[int, ...],
    input_offset: int,
    output_offset: int,
    out_mult: int,
    out_shift: int,
    rounding: str = "double",
) -> np.ndarray:
    """MEAN, int8, over the axes ``axis`` of a tensor shaped ``in_shape`` (any rank).

    ``x`` is a batch of such tensors stacked on their first axis (``(N * in_shape[0], ...)``);
    each one is reduced on its own, so reducing axis 0 never mixes samples. Returns
    ``(N, *in_shape with the reduced axes set to 1)`` int8 (the caller drops them for
    ``keep_dims=False``).

    The arithmetic of TFLite's ``QuantizedMeanOrSum`` (what ai-edge-litert 2.3 runs for every
    int8 MEAN): the int32 sum of ``x + input_offset`` over the reduced elements, requantized once
    with ``(out_mult, out_shift)``, the ``input_scale / output_scale`` multiplier with the
    element count folded in as integers (see :func:`mean_multiplier`), plus ``output_offset``,
    saturated to int8.
    """
    rows = x.astype(np.int64).reshape((-1,) + tuple(in_shape))
    acc = (rows + int(input_offset)).sum(axis=tuple(a + 1 for a in axis), keepdims=True)
    acc = multiply_by_quantized_multiplier(wrap_int32(acc), out_mult, out_shift, rounding)
    return saturate(acc + int(output_offset), -128, 127)


def mean_multiplier(mult: int, shift: int, count: int) -> tuple[int, int]:
    """Fold a division by ``count`` into TFLite's ``(mult, shift)`` of ``input_scale / output_scale``.

    As TFLite's int8 MEAN does it, in integers: with ``k = floor(log2(count))`` capped at 32 and at
    ``31 + shift`` (so the new shift stays >= -31), the multiplier becomes
    ``floor(mult * 2**k / count)`` and the shift ``shift - k``. This is not the multiplier that
    :func:`~edge_deploy.quantize.fixedpoint.quantize_multiplier` gives for the real
    ``input_scale / (output_scale * count)``; the two differ in the low bits, and so do outputs.
    """
    if count <= 0:
        raise ValueError(f"mean_multiplier: the element count must be positive, got {count}")
    k = max(0, min(count.bit_length() - 1, 32, 31 + int(shift)))  # shift >= -31 from quantize_multiplier
    return int((int(mult) << k) // count), int(shift) - k
