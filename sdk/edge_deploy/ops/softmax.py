"""SOFTMAX over the last axis, int8, as TFLite's reference kernel and CMSIS-NN's ``arm_softmax_s8``
compute it. The output is int8 with scale 1/256 and zero point -128.

The maths is gemmlowp's fixed point: input differences from the row maximum are scaled to Q5.26,
``exp`` is evaluated on negative values by a polynomial on [-1/4, 0) and a barrel of constant
multipliers, the sum of exponentials is accumulated in Q12.19 and inverted by Newton-Raphson.
"""

from __future__ import annotations

import math

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams
from edge_deploy.numerics.fixedpoint import (
    INT32_MAX,
    multiply_by_quantized_multiplier_greater_than_one,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_left_shift,
    saturating_rounding_doubling_high_mul as _mul,
    wrap_int32,
)
from edge_deploy.ops.base import Attr, OpDef, TfliteCode, op_error

SOFTMAX = 25
SOFTMAX_OPTIONS = 9
BETA_SLOT = 0
_SCALED_DIFF_INTEGER_BITS = 5
_ACCUMULATION_INTEGER_BITS = 12


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """Return ``(input_mult, input_left_shift, diff_min)`` for :func:`softmax_s8`.

    TFLite's PreprocessSoftmaxScaling and CalculateInputRadius with 5 integer bits.
    """
    real = min(float(beta) * float(input_scale) * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    max_rescaled = (
        1.0 * ((1 << _SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)) / (1 << left_shift)
    )
    return mult, left_shift, -int(math.floor(max_rescaled))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    constant_term = 1895147668  # exp(-1/8) in Q0.31
    one_third = 715827883  # 1/3 in Q0.31
    x = wrap_int32(a + (1 << 28))  # a + 1/8
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(wrap_int32(_mul(wrap_int32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap_int32(constant_term + _mul(constant_term, wrap_int32(x + poly)))


def _exp_on_negative_values(a: np.ndarray) -> np.ndarray:
    """exp of a Q5.26 value <= 0, as Q0.31."""
    fractional_bits = 31 - _SCALED_DIFF_INTEGER_BITS
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_left_shift(a_mod_quarter_minus_one_quarter, _SCALED_DIFF_INTEGER_BITS)
    )
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    # exp(-2**k) for k = -2..4 in Q0.31, applied for each set bit of the remainder.
    barrel = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))
    for exponent, multiplier in barrel:
        if _SCALED_DIFF_INTEGER_BITS > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, _mul(result, multiplier), result)
    return np.where(a == 0, np.int64(INT32_MAX), result)


def _one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    # half_denominator = RoundingHalfSum(a, one) in Q0.31.
    total = a + INT32_MAX
    sign = np.where(total >= 0, 1, -1)
    half_denominator = np.where(total + sign >= 0, (total + sign) >> 1, -((-(total + sign)) >> 1))
    x = wrap_int32(1515870810 + _mul(half_denominator, -1010580540))  # 48/17 - 32/17 * d, Q2.29
    for _ in range(3):
        one_minus = wrap_int32((1 << 29) - _mul(half_denominator, x))
        x = wrap_int32(x + saturating_left_shift(_mul(x, one_minus), 2))
    return saturating_left_shift(x, 1)


def _count_leading_zeros_u32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) & 0xFFFFFFFF
    bits = np.zeros(x.shape, dtype=np.int64)
    for shift in (16, 8, 4, 2, 1):
        move = x < (np.uint64(1) << np.uint64(32 - shift))
        bits = bits + np.where(move, shift, 0)
        x = np.where(move, x << np.uint64(shift), x)
    return np.where(x == 0, 32, bits + np.where(x < (np.uint64(1) << np.uint64(31)), 1, 0))


def exp_table(*, input_mult: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """The exponentials :func:`softmax_s8` evaluates, for the differences 0, -1, ..., -255 to the
    row maximum (Q0.31), 0 where the difference is below ``diff_min`` (left out of the sum and
    the output): a table for kernels that look them up (``ed_softmax_s8``)."""
    diff = -np.arange(256, dtype=np.int64)
    exps = _exp_on_negative_values(multiply_by_quantized_multiplier_greater_than_one(diff, input_mult, input_left_shift))
    return np.where(diff >= int(diff_min), exps, 0)


def softmax_s8(x: np.ndarray, *, input_mult: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """SOFTMAX over the last axis of an int8 tensor (``arm_softmax_s8``); returns int8 (zp -128).

    ``input_mult``, ``input_left_shift`` and ``diff_min`` come from :func:`softmax_params`.
    """
    values = x.astype(np.int64)
    diff = values - values.max(axis=-1, keepdims=True)
    valid = diff >= int(diff_min)
    scaled = multiply_by_quantized_multiplier_greater_than_one(diff, input_mult, input_left_shift)
    exps = _exp_on_negative_values(scaled)
    rescaled = rounding_divide_by_pot(exps, _ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(valid, rescaled, 0).sum(axis=-1, keepdims=True))

    headroom_plus_one = _count_leading_zeros_u32(sum_of_exps)
    num_bits_over_unit = _ACCUMULATION_INTEGER_BITS - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((sum_of_exps & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    shifted_scale = _one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)

    unsat = rounding_divide_by_pot(_mul(shifted_scale, exps), num_bits_over_unit + 31 - 8)
    out = np.clip(unsat - 128, -128, 127)
    return np.where(valid, out, -128).astype(np.int8)


def _beta_check(value) -> str | None:
    try:
        ok = math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    return None if ok else f"must be a finite number > 0, got {value!r}"


class Softmax(OpDef):
    kind = "softmax"
    reference = staticmethod(softmax_s8)
    attrs = (Attr("beta", _beta_check),)
    tflite_codes = (TfliteCode(SOFTMAX, "SOFTMAX", 2),)
    torch_modules = ("Softmax",)
    aten_targets = ("softmax", "_softmax")

    def check_quantized(self, graph: Graph, op: Op) -> None:
        out = graph.tensor(op.outputs[0])
        if out.zero_point != -128 or abs(out.scale - 1 / 256) > 1e-3 / 256:
            raise op_error(op, f"int8 softmax output '{out.name}' must have scale 1/256 and zero point -128")
        x = graph.tensor(op.inputs[0])
        # TFLite scales input differences by a multiplier greater than one (beta * scale * 2**26).
        real = float(np.float32(self.attr(op, "beta"))) * float(np.float32(x.scale))
        if not real * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)) > 1.0:
            raise op_error(op, f"beta x input scale is {real:.3g}, below the 2**-26 int8 softmax can resolve "
                               f"(input '{x.name}' scale {x.scale:.3g})",
                           "quantize the softmax input with a larger scale (its real range is implausibly small)")

    def kernel_params(self, graph: Graph, op: Op) -> dict:
        x = graph.tensor(op.inputs[0])
        mult, left_shift, diff_min = softmax_params(float(np.float32(op.attrs.get("beta", 1.0))),
                                                    float(np.float32(x.scale)))
        return {"input_mult": mult, "input_left_shift": left_shift, "diff_min": diff_min}

    def run_int8(self, args: list, params: dict) -> np.ndarray:
        return softmax_s8(args[0], **params)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        x = args[0]
        z = (x.astype(np.float64) - x.max(axis=-1, keepdims=True)) * op.attrs.get("beta", 1.0)
        e = np.exp(z)
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    def output_quant(self, graph: Graph, op: Op, ranges, calibrated) -> QuantParams:
        return QuantParams([1.0 / 256.0], [-128])

    def from_tflite(self, code: int, reader) -> dict:
        return {"beta": float(reader.option(BETA_SLOT, "<f", 0.0))}

    def to_tflite(self, graph: Graph, op: Op, writer) -> tuple[int, int]:
        return writer.table(SOFTMAX_OPTIONS, [(BETA_SLOT, "f32", float(op.attrs.get("beta", 1.0)))])

    def lower_torch(self, lowering, node, module):
        """nn.Softmax over the last axis."""
        src = lowering.source(node)
        return lowering.value(lowering.builder.softmax(src.name, node.name), torch_shape=src.torch_shape)

    def lower_aten(self, lowering, node):
        """``aten.softmax.int`` / ``aten._softmax`` over the dimension that is last in NHWC (the
        features of a 2-D tensor, the channels of a feature map)."""
        src = lowering.tensor(node, 0)
        rank = len(src.torch_shape)
        if lowering.ir_axis(int(lowering.arg(node, "dim", -1)), rank) != lowering.ir_rank(rank) - 1:
            raise lowering.error(f"{lowering.label(node)}: only a softmax over the features (or channels) can be lowered")
        return lowering.result(node, lowering.builder.softmax(src.name, node.name))

    def build(self, builder, x, name, *, beta=1.0, quant=None) -> str:
        """SOFTMAX of ``x`` over its last axis."""
        return builder.op(self.kind, name, [x], {"beta": float(beta)}, quant)


OP = Softmax()
