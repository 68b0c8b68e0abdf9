"""HARD_SWISH: ``x * relu6(x + 3) / 6`` in int8 with TFLite's 16-bit fixed-point arithmetic
(MobileNetV3). C: ``ed_lut_s8``."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops._unary import UnaryOp, checked_multiplier
from edge_deploy.ops.base import TfliteCode, op_error

HARD_SWISH = 117
_I16_MIN, _I16_MAX = -(1 << 15), (1 << 15) - 1


def _sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, _I16_MIN, _I16_MAX)


def _rounding_doubling_high_mul16(a: np.ndarray, b: int) -> np.ndarray:
    # gemmlowp's int16 SaturatingRoundingDoublingHighMul: (a * b + nudge) / 2**15, toward zero.
    ab = a.astype(np.int64) * int(b)
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    total = ab + nudge
    high = np.where(total >= 0, total >> 15, -((-total) >> 15))
    return np.where((a == _I16_MIN) & (int(b) == _I16_MIN), _I16_MAX, high)


def _doubling_high_mul16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # The same without the rounding nudge (ARM's SQDMULH), toward zero.
    ab = a.astype(np.int64) * b.astype(np.int64)
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == _I16_MIN) & (b == _I16_MIN), _I16_MAX, high)


def _rounding_divide16(x: np.ndarray, exponent: int) -> np.ndarray:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def hard_swish_s8(x: np.ndarray, *, input_zero_point: int, output_zero_point: int, output_mult16: int,
                  output_exponent: int, reluish_mult16: int, reluish_exponent: int) -> np.ndarray:
    """HARD_SWISH, int8, in TFLite's reference fixed-point steps: the input on a 2**7 finer scale;
    a "relu-ish" factor in [0, 1] (the input rescaled so that 3.0 is 2**15, saturated, mapped to
    [0, 1]); its product with the input on the output scale; the final rounding shift."""
    value = x.astype(np.int64) - int(input_zero_point)
    hires = value * (1 << 7)
    on_output = _rounding_doubling_high_mul16(hires, output_mult16)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _sat16(reluish * (1 << (reluish_exponent - 1)))
    reluish = _rounding_doubling_high_mul16(reluish, reluish_mult16)
    if reluish_exponent > 0:
        reluish = _sat16(reluish * 2)
    if reluish_exponent < 0:
        reluish = _rounding_divide16(reluish, -reluish_exponent)
    reluish = (reluish + (1 << 15)) >> 1
    out = _rounding_divide16(_doubling_high_mul16(reluish, on_output), -output_exponent)
    return np.clip(out + int(output_zero_point), -128, 127).astype(np.int8)


def _to_int16_multiplier(multiplier: int) -> int:
    # TFLite's DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15, saturating.
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return _I16_MAX
    return (multiplier + (1 << 15)) >> 16


class HardSwish(UnaryOp):
    kind = "hard_swish"
    reference = staticmethod(hard_swish_s8)
    tflite_codes = (TfliteCode(HARD_SWISH, "HARD_SWISH", 1),)
    torch_modules = ("Hardswish",)
    aten_targets = ("hardswish",)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        hires_scale = np.float32(1.0 / 128.0) * np.float32(x.scale)
        out_mult, out_exp = checked_multiplier(op, float(hires_scale / np.float32(y.scale)), "output")
        if out_exp > 0:
            raise op_error(op, f"output scale {y.scale:g} is too small for input scale {x.scale:g} "
                           "(TFLite's HARD_SWISH needs input_scale / 128 <= output_scale)")
        relu_mult, relu_exp = checked_multiplier(op, float(hires_scale / np.float32(3.0 / 32768.0)), "reluish")
        return {"input_zero_point": x.zero_point, "output_zero_point": y.zero_point,
                "output_mult16": _to_int16_multiplier(out_mult), "output_exponent": out_exp,
                "reluish_mult16": _to_int16_multiplier(relu_mult), "reluish_exponent": relu_exp}

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        x = args[0]
        return (x * np.clip(x + 3, 0, 6) / 6).astype(np.float32)

    def lower_torch(self, lowering, node, module) -> Any:
        """nn.Hardswish."""
        src = lowering.source(node)
        return lowering.value(lowering.builder.hard_swish(src.name, node.name), torch_shape=src.torch_shape)


    def lower_aten(self, lowering, node) -> Any:
        """``aten.hardswish``."""
        src = lowering.tensor(node, 0)
        return lowering.result(node, lowering.builder.hard_swish(src.name, node.name))


OP = HardSwish()
