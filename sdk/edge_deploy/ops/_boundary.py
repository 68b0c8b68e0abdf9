"""Checks shared by QUANTIZE and DEQUANTIZE, the ops at a model's float or uint8 interface."""

from __future__ import annotations

from edge_deploy.ir.graph import Op, Tensor
from edge_deploy.ops.base import op_error

BYTE_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def check_byte_tensor(op: Op, t: Tensor) -> None:
    """Raise unless ``t`` is an int8 or uint8 tensor quantized per tensor with a zero point in range."""
    if t.dtype not in BYTE_RANGES or t.quant is None or t.quant.per_channel:
        raise op_error(op, f"tensor '{t.name}' must be int8 or uint8 with per-tensor quantization, got {t.dtype}")
    low, high = BYTE_RANGES[t.dtype]
    if not low <= t.zero_point <= high or not t.scale > 0:
        raise op_error(op, f"tensor '{t.name}' has scale {t.scale} / zero point {t.zero_point} out of range")


def check_float_tensor(op: Op, t: Tensor) -> None:
    """Raise unless ``t`` is float32."""
    if t.dtype != "float32":
        raise op_error(op, f"tensor '{t.name}' must be float32, got {t.dtype}")


