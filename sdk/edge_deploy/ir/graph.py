"""The graph IR every later stage reads: tensors, ops and a graph in topological order.

Plain data: what each op kind means (attributes, shapes, arithmetic) lives in its module of
:mod:`edge_deploy.ops`, which also validates graphs.

Layout is TFLite's: activations NHWC with batch 1, conv weights OHWI, depthwise weights 1HWO,
fully connected weights ``(out, in)``. A Conv1D is a ``conv2d`` with height 1. Tensors are named;
ops refer to them by name. ``Graph.ops`` is always in execution (topological) order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError

# int16: the state of recurrent ops (SVDF's activation state, LSTM's cell state).
DTYPES = ("int8", "int16", "int32", "float32", "uint8")
# The dtypes a quantized graph's inputs and outputs may have besides int8: a model converted with a
# float or uint8 interface quantizes its input (QUANTIZE) and dequantizes its output (DEQUANTIZE).
BOUNDARY_DTYPES = ("float32", "uint8")


@dataclass
class QuantParams:
    """Affine quantization: ``real = scale * (q - zero_point)``.

    ``scale`` (float32) and ``zero_point`` (int64) have one entry per tensor, or one per channel
    along ``axis`` (TFLite's ``quantized_dimension``).
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    def __post_init__(self) -> None:
        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float32))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))
        if self.zero_point.size == 1 and self.scale.size > 1:
            self.zero_point = np.zeros(self.scale.size, dtype=np.int64) + self.zero_point[0]

    @property
    def per_channel(self) -> bool:
        """True when there is more than one scale."""
        return self.scale.size > 1

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, QuantParams)
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
            and (self.axis == other.axis or not self.per_channel)
        )


@dataclass
class Tensor:
    """A named tensor: shape, dtype, optional quantization, and ``data`` when it is a constant.

    ``variable`` marks a state tensor (TFLite's ``is_variable``): no data, neither a constant nor
    an activation; it holds its zero point when the model starts (or is reset) and keeps its value
    from one inference to the next. Only the ops that list its position in their
    ``state_inputs`` (:class:`edge_deploy.ops.base.OpDef`) read it, and they update it in place.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None
    data: np.ndarray | None = None
    variable: bool = False

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in self.shape)

    @property
    def is_constant(self) -> bool:
        """True for weights, biases and other tensors whose value is stored in the model."""
        return self.data is not None

    @property
    def nbytes(self) -> int:
        """Size of the tensor's data in bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def scale(self) -> float:
        """The per-tensor scale (first scale of a per-channel tensor)."""
        return float(self.quant.scale[0]) if self.quant else 1.0

    @property
    def zero_point(self) -> int:
        """The per-tensor zero point (0 when not quantized)."""
        return int(self.quant.zero_point[0]) if self.quant else 0


@dataclass
class Op:
    """One operation: ``kind`` (an op of :mod:`edge_deploy.ops`), tensor names in and out, and attributes."""

    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """A model: tensors by name, ops in execution order, and the graph's input and output names."""

    name: str
    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor:
        """Return the tensor called ``name``; raises EdgeDeployError if there is none."""
        try:
            return self.tensors[name]
        except KeyError:
            raise EdgeDeployError(f"graph '{self.name}' has no tensor '{name}'") from None

    def op_inputs(self, op: Op) -> list[Tensor]:
        """The op's input tensors (an empty name, an omitted optional input, gives None)."""
        return [self.tensors[n] if n else None for n in op.inputs]

    def producers(self) -> dict[str, int]:
        """Map each op-produced tensor name to the index of the op that writes it."""
        return {out: i for i, op in enumerate(self.ops) for out in op.outputs}

    def consumers(self) -> dict[str, list[int]]:
        """Map each tensor name to the indices of the ops that read it, in order."""
        readers: dict[str, list[int]] = {name: [] for name in self.tensors}
        for i, op in enumerate(self.ops):
            for name in op.inputs:
                if name:
                    readers[name].append(i)
        return readers

    def constant_bytes(self) -> int:
        """Bytes of the constant tensors the ops read (weights, biases: as the model holds them),
        each once however many ops read it."""
        names = {name for op in self.ops for name in op.inputs if name and self.tensors[name].is_constant}
        return sum(self.tensors[name].nbytes for name in names)

    def variables(self) -> list[str]:
        """Names of the variable (state) tensors, in the order the ops first use them."""
        names: list[str] = []
        for op in self.ops:
            names += [n for n in op.inputs if n and self.tensors[n].variable and n not in names]
        return names

    def activations(self) -> list[str]:
        """Names of the non-constant tensors (graph inputs and op outputs), in execution order."""
        names = list(self.inputs)
        for op in self.ops:
            names += [o for o in op.outputs if o not in names]
        return names

    def lifetimes(self) -> dict[str, tuple[int, int]]:
        """For each activation tensor, ``(first, last)`` op index during which it must be live.

        A graph input is born at -1 (before the first op); a graph output lives until
        ``len(ops)`` so it survives the last op. This is what a memory planner needs.
        """
        born = {name: -1 for name in self.inputs}
        born.update(self.producers())
        last = dict(born)
        for i, op in enumerate(self.ops):
            for name in op.inputs:
                if name in last:
                    last[name] = max(last[name], i)
        for name in self.outputs:
            last[name] = len(self.ops)
        return {name: (born[name], last[name]) for name in self.activations()}

    def copy(self) -> Graph:
        """A deep copy (tensor data included)."""
        return copy.deepcopy(self)

    @property
    def is_quantized(self) -> bool:
        """True when every activation is int8, except at the boundary: a graph input (float32 or
        uint8) whose every reader writes int8, or a graph output produced from an int8 input
        (a QUANTIZE / DEQUANTIZE at the model's interface)."""
        readers, producers = self.consumers(), self.producers()
        for name in self.activations():
            dtype = self.tensors[name].dtype
            if dtype == "int8":
                continue
            if dtype not in BOUNDARY_DTYPES:
                return False
            if name in self.inputs:
                ok = bool(readers[name]) and all(self.tensors[self.ops[i].outputs[0]].dtype == "int8"
                                                 for i in readers[name])
            elif name in self.outputs and name in producers:
                source = self.ops[producers[name]].inputs[0]
                ok = self.tensors[source].dtype == "int8"
            else:
                ok = False
            if not ok:
                return False
        return True
