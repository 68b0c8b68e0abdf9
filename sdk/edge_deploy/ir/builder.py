"""Build IR graphs op by op (used by the PyTorch lowering, tests and benchmarks).

Each method adds one op, creates its constant tensors (``<name>/weights``, ``<name>/bias``) and
its output tensor (named ``name``, shape inferred), and returns the output tensor's name. The op
itself is also called ``name``, so a graph built here survives a ``.tflite`` round trip unchanged.
"""

from __future__ import annotations

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.ir.shapes import output_shape, validate


class GraphBuilder:
    """Accumulates tensors and ops; :meth:`finish` returns the validated :class:`Graph`."""

    def __init__(self, name: str, dtype: str = "float32") -> None:
        self.graph = Graph(name, {}, [], [], [])
        self.dtype = dtype

    def input(self, name: str, shape: tuple[int, ...], quant: QuantParams | None = None) -> str:
        """Declare a graph input (batch dimension 1 included in ``shape``)."""
        self.graph.tensors[name] = Tensor(name, shape, self.dtype, quant)
        self.graph.inputs.append(name)
        return name

    def constant(self, name: str, data: np.ndarray, dtype: str | None = None, quant: QuantParams | None = None) -> str:
        """Add a constant tensor holding ``data``."""
        dtype = dtype or str(np.asarray(data).dtype)
        array = np.ascontiguousarray(np.asarray(data).astype(dtype))
        self.graph.tensors[name] = Tensor(name, array.shape, dtype, quant, array)
        return name

    def op(self, kind: str, name: str, inputs: list[str], attrs: dict, quant: QuantParams | None = None) -> str:
        """Add an op of ``kind`` whose output tensor is called ``name``; returns ``name``."""
        self.graph.tensors[name] = Tensor(name, (), self.dtype, quant)
        op = Op(kind, name, list(inputs), [name], dict(attrs))
        self.graph.ops.append(op)
        self.graph.tensors[name].shape = output_shape(self.graph, op)
        return name

    def _weights(self, name, weights, bias, w_quant, b_quant) -> list[str]:
        wdtype = "int8" if w_quant is not None else "float32"
        names = [self.constant(f"{name}/weights", weights, wdtype, w_quant)]
        if bias is not None:
            names.append(self.constant(f"{name}/bias", bias, "int32" if b_quant is not None else "float32", b_quant))
        return names

    def conv2d(self, x, name, weights, bias=None, *, stride=(1, 1), padding="valid", dilation=(1, 1),
               activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """CONV_2D with OHWI ``weights``."""
        ins = [x] + self._weights(name, weights, bias, w_quant, b_quant)
        attrs = {"stride": tuple(stride), "dilation": tuple(dilation), "padding": padding, "activation": activation}
        return self.op("conv2d", name, ins, attrs, quant)

    def depthwise_conv2d(self, x, name, weights, bias=None, *, stride=(1, 1), padding="valid", dilation=(1, 1),
                         activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """DEPTHWISE_CONV_2D with 1HWO ``weights``."""
        ins = [x] + self._weights(name, weights, bias, w_quant, b_quant)
        multiplier = np.asarray(weights).shape[3] // self.graph.tensor(x).shape[3]
        attrs = {"stride": tuple(stride), "dilation": tuple(dilation), "padding": padding,
                 "activation": activation, "depth_multiplier": multiplier}
        return self.op("depthwise_conv2d", name, ins, attrs, quant)

    def fully_connected(self, x, name, weights, bias=None, *, activation="none", quant=None, w_quant=None, b_quant=None) -> str:
        """FULLY_CONNECTED with ``(out, in)`` weights."""
        ins = [x] + self._weights(name, weights, bias, w_quant, b_quant)
        return self.op("fully_connected", name, ins, {"activation": activation}, quant)

    def pool(self, x, name, kind, *, filter_hw, stride, padding="valid", activation="none", quant=None) -> str:
        """MAX_POOL_2D (``kind="max_pool2d"``) or AVERAGE_POOL_2D (``"avg_pool2d"``)."""
        attrs = {"filter": tuple(filter_hw), "stride": tuple(stride), "padding": padding, "activation": activation}
        return self.op(kind, name, [x], attrs, quant)

    def add(self, a, b, name, *, activation="none", quant=None) -> str:
        """Element-wise ADD (broadcasting)."""
        return self.op("add", name, [a, b], {"activation": activation}, quant)

    def reshape(self, x, name, shape, quant=None) -> str:
        """RESHAPE to ``shape`` (one -1 allowed)."""
        out = self.op("reshape", name, [x], {"shape": tuple(shape)}, quant)
        self.graph.ops[-1].attrs["shape"] = tuple(self.graph.tensors[out].shape)
        return out

    def softmax(self, x, name, *, beta=1.0, quant=None) -> str:
        """SOFTMAX over the last axis."""
        return self.op("softmax", name, [x], {"beta": float(beta)}, quant)

    def pad(self, x, name, paddings, *, pad_value=None, quant=None) -> str:
        """PAD (``pad_value`` None: the zero point) or PADV2 (an explicit int8 value)."""
        return self.op("pad", name, [x], {"paddings": [tuple(p) for p in paddings], "pad_value": pad_value}, quant)

    def mean(self, x, name, *, axis=(1, 2), keep_dims=False, quant=None) -> str:
        """MEAN over ``axis`` (H and W of an NHWC tensor)."""
        return self.op("mean", name, [x], {"axis": tuple(axis), "keep_dims": bool(keep_dims)}, quant)

    def finish(self, outputs: list[str]) -> Graph:
        """Set the graph outputs, validate and return the graph."""
        self.graph.outputs = list(outputs)
        return validate(self.graph)
