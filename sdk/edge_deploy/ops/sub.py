"""SUB: element-wise difference of two int8 tensors (NumPy broadcasting), rescaled as ADD with the
second input's multiplier negated (what TFLite's SUB computes), fused ReLU / ReLU6. C API:
``arm_elementwise_add_s8`` with that multiplier. Everything else is ADD's (its subclass)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops.add import Add
from edge_deploy.ops.base import TfliteCode

SUB = 41
SUB_OPTIONS = 28


class Sub(Add):
    kind = "sub"
    tflite_codes = (TfliteCode(SUB, "SUB", 3),)
    torch_functions = ("sub",)
    aten_targets = ("sub",)
    tflite_options = SUB_OPTIONS
    float_function = staticmethod(np.subtract)

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        params = super().kernel_params(graph, op)
        return {**params, "input2_mult": -params["input2_mult"]}


OP = Sub()
