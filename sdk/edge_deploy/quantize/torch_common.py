"""What the two PyTorch lowerings share (``lower``: a torch.fx trace; ``aten``: a ``torch.export``
program): the IR value of a node, PyTorch <-> NHWC shapes, 1-D / 2-D settings, and fusing a
ReLU-like activation into the op that produces a tensor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_deploy.errors import EdgeDeployError


@dataclass
class Value:
    """What an fx node is in the IR: a tensor name, its torch shape, and a pending Linear
    column permutation (set by a channels-first flatten)."""

    name: str
    torch_shape: tuple[int, ...]
    column_order: np.ndarray | None = None


def nhwc_shape(torch_shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(torch_shape) == 3:
        return (torch_shape[0], 1, torch_shape[2], torch_shape[1])
    if len(torch_shape) == 4:
        return (torch_shape[0], torch_shape[2], torch_shape[3], torch_shape[1])
    return tuple(torch_shape)


def torch_shape_of(nhwc: tuple[int, ...], rank: int) -> tuple[int, ...]:
    if rank == 3:
        return (nhwc[0], nhwc[3], nhwc[2])
    if rank == 4:
        return (nhwc[0], nhwc[3], nhwc[1], nhwc[2])
    return tuple(nhwc)


def pair(value, rank: int, height: int = 1) -> tuple[int, int]:
    # A 1-D setting becomes (height, value): height 1 for sizes and strides, 0 for padding.
    value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if rank == 3:
        return (height, int(value[0]))
    return (int(value[0]), int(value[-1]))


def any_not(value, expected: int) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return any(int(v) != expected for v in values)


def producing_op(builder, name):
    for op in builder.graph.ops:
        if op.outputs[0] == name:
            return op
    return None


def fuse_activation(builder, name, src, activation, shared, label) -> Value:
    """Fuse a ReLU / ReLU6 into the op producing ``src`` when that op takes a fused activation
    and nothing else reads its output. When that tensor has other users (the op, or a BatchNorm /
    Dropout / Identity aliasing it, feeds another branch), a feature map gets a 1x1 max pool with
    the activation fused, so the other users still read the un-activated tensor; anything else
    (an op without a fused activation, such as a SLICE or a CONCATENATION) gets a RELU / RELU6 op."""
    op = producing_op(builder, src.name)
    fusable = op is not None and op.attrs.get("activation", None) == "none"
    if fusable and not shared(src.name):
        op.attrs["activation"] = activation
        return src
    if fusable and len(builder.graph.tensor(src.name).shape) == 4:
        out = builder.max_pool2d(src.name, name, filter_hw=(1, 1), stride=(1, 1), activation=activation)
    else:
        out = getattr(builder, activation)(src.name, name)
    return Value(out, src.torch_shape, src.column_order)


class LoweringBase:
    """What an op module's ``lower_torch`` / ``lower_aten`` gets in both lowerings: the builder,
    the IR value of each node, the error to raise, and the 1-D / 2-D setting helpers."""

    def __init__(self, builder, values: dict[str, Value]) -> None:
        self.builder, self.values = builder, values

    @staticmethod
    def error(message: str, hint: str | None = None) -> EdgeDeployError:
        """The error a lowering raises for a node it cannot lower."""
        return EdgeDeployError(message, hint)

    pair = staticmethod(pair)
    any_not = staticmethod(any_not)
