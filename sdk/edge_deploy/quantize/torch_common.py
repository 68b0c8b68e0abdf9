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


def fold_batchnorm(builder, src: Value, shared, label: str, gamma, beta, mean, var, eps: float) -> Value:
    """Fold a batch norm (float64 per-channel ``gamma`` and ``beta``, None for 1 and 0; running
    ``mean`` and ``var``) into the convolution producing ``src``, which must have no activation
    and no other user; the value stays ``src``."""
    op = producing_op(builder, src.name)
    if op is None or op.kind not in ("conv2d", "depthwise_conv2d") or op.attrs["activation"] != "none":
        raise EdgeDeployError(f"{label}: a batch norm can only be folded into a directly preceding convolution")
    if shared(src.name):
        raise EdgeDeployError(f"{label}: the convolution before this batch norm (or a Dropout / Identity between "
                              "them) has other users; it cannot be folded", "apply the batch norm before branching")
    gamma = np.ones_like(mean) if gamma is None else gamma
    beta = np.zeros_like(mean) if beta is None else beta
    factor = gamma / np.sqrt(var + eps)
    w = builder.graph.tensor(op.inputs[1])
    # Output channels are axis 0 of OHWI and axis 3 of 1HWO.
    w.data = (w.data * (factor[:, None, None, None] if op.kind == "conv2d" else factor)).astype(np.float32)
    old_bias = builder.graph.tensor(op.inputs[2]).data if len(op.inputs) > 2 else np.zeros(len(factor))
    new_bias = ((old_bias - mean) * factor + beta).astype(np.float32)
    if len(op.inputs) > 2:
        builder.graph.tensor(op.inputs[2]).data = new_bias
    else:
        op.inputs.append(builder.constant(f"{op.name}/bias", new_bias, "float32"))
    return src


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
