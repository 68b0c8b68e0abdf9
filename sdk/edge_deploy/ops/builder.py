"""Build IR graphs op by op (used by the PyTorch lowering, tests and benchmarks).

``builder.<kind>(...)`` adds one op through that op module's ``build`` (so every op has its
helper without a method here), creating its constant tensors (``<name>/weights``,
``<name>/bias``) and its output tensor (named ``name``, shape inferred); it returns the output
tensor's name. The op itself is also called ``name``, so a graph built here survives a
``.tflite`` round trip unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor


class GraphBuilder:
    """Accumulates tensors and ops; :meth:`finish` returns the validated :class:`Graph`."""

    def __init__(self, name: str, dtype: str = "float32") -> None:
        self.graph = Graph(name, {}, [], [], [])
        self.dtype = dtype

    def __getattr__(self, kind: str) -> Any:
        # builder.conv2d(...), builder.max_pool2d(...): the op module's build helper.
        from edge_deploy.ops import _registry

        definition = _registry().get(kind)
        if definition is None:
            raise AttributeError(f"GraphBuilder has no op {kind!r}")
        return lambda *args, **kwargs: definition.build(self, *args, **kwargs)

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

    def variable(self, name: str, shape: tuple[int, ...], dtype: str | None = None,
                 quant: QuantParams | None = None) -> str:
        """Add a variable (state) tensor: no data, its zero point at start, updated in place by
        the op that takes it as a state input (``OpDef.state_inputs``)."""
        self.graph.tensors[name] = Tensor(name, shape, dtype or self.dtype, quant, variable=True)
        return name

    def op(self, kind: str, name: str, inputs: list[str], attrs: dict, quant: QuantParams | None = None) -> str:
        """Add an op of ``kind`` whose output tensor is called ``name``; returns ``name``."""
        from edge_deploy.ops import output_shape

        self.graph.tensors[name] = Tensor(name, (), self.dtype, quant)
        op = Op(kind, name, list(inputs), [name], dict(attrs))
        self.graph.ops.append(op)
        self.graph.tensors[name].shape = output_shape(self.graph, op)
        return name

    def weights(self, name: str, weights, bias, w_quant, b_quant) -> list[str]:
        """Add ``<name>/weights`` (int8 when ``w_quant`` is given) and ``<name>/bias`` (int32 with
        ``b_quant``) as constants; returns their names, for a weighted op's inputs."""
        wdtype = "int8" if w_quant is not None else "float32"
        names = [self.constant(f"{name}/weights", weights, wdtype, w_quant)]
        if bias is not None:
            names.append(self.constant(f"{name}/bias", bias, "int32" if b_quant is not None else "float32", b_quant))
        return names

    def finish(self, outputs: list[str]) -> Graph:
        """Set the graph outputs, validate and return the graph."""
        from edge_deploy.ops import validate

        self.graph.outputs = list(outputs)
        return validate(self.graph)
