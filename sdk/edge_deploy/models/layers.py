"""Building blocks the image and audio models share: TensorFlow's SAME padding in PyTorch, a
convolution with batch norm and activation, and channel attention.

TensorFlow pads a strided convolution with SAME asymmetrically (the extra row and column go at
the bottom and right), which PyTorch's symmetric ``padding`` cannot say. :func:`same_conv` pads
symmetrically where SAME is symmetric and puts an ``nn.ZeroPad2d`` in front otherwise, so a model
reads exactly the windows of its TensorFlow reference (the MLPerf Tiny models) and the int8
lowering folds the pad back into a SAME convolution.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from edge_deploy.errors import EdgeDeployError

GATES = ("sigmoid", "hard_sigmoid")


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: ``(before, after)`` for an output of ``ceil(size / stride)``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_output_size(size: Sequence[int], stride: Sequence[int]) -> tuple[int, ...]:
    """Spatial size after a SAME convolution or pool with ``stride``."""
    return tuple(-(-int(s) // int(t)) for s, t in zip(size, stride))


def same_conv(in_channels: int, out_channels: int, kernel: Sequence[int], stride: Sequence[int],
              size: Sequence[int], *, groups: int = 1, bias: bool = False) -> OrderedDict[str, nn.Module]:
    """A convolution with TensorFlow SAME padding on an input of spatial ``size`` (H, W), as named
    layers: ``{"conv": Conv2d}``, or ``{"pad": ZeroPad2d, "conv": Conv2d}`` when SAME pads one side
    more than the other."""
    pads = [same_pads(int(n), int(k), int(s)) for n, k, s in zip(size, kernel, stride)]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if all(before == after for before, after in pads):
        padding = tuple(before for before, _ in pads)
    else:
        (top, bottom), (left, right) = pads
        layers["pad"] = nn.ZeroPad2d((left, right, top, bottom))
        padding = (0, 0)
    layers["conv"] = nn.Conv2d(in_channels, out_channels, tuple(kernel), stride=tuple(stride), padding=padding,
                               groups=groups, bias=bias)
    return layers


class ConvBN(nn.Sequential):
    """SAME convolution (no bias), BatchNorm, then ``activation`` (``relu``, ``relu6`` or None):
    the unit of every model here. Layers: ``[pad], conv, bn, [act]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Sequence[int], stride: Sequence[int],
                 size: Sequence[int], *, groups: int = 1, activation: str | None = "relu") -> None:
        layers = same_conv(in_channels, out_channels, kernel, stride, size, groups=groups)
        layers["bn"] = nn.BatchNorm2d(out_channels)
        if activation is not None:
            layers["act"] = {"relu": nn.ReLU, "relu6": nn.ReLU6}[activation]()
        super().__init__(layers)


class ChannelAttention(nn.Module):
    """Channel attention (squeeze and excitation): global average pool, two small fully connected
    layers (``fc1`` to ``hidden`` units with ReLU, ``fc2`` back to ``channels``), a gate
    (``sigmoid`` or ``hard_sigmoid``), and the input multiplied by the gate channel by channel.

    The fully connected layers are 1x1 convolutions on the pooled 1x1 map (the same weights and
    arithmetic as ``nn.Linear``), so the gate stays an ``(N, C, 1, 1)`` tensor and the multiply
    broadcasts it over the feature map without reshapes.
    """

    def __init__(self, channels: int, hidden: int, gate: str = "sigmoid") -> None:
        super().__init__()
        if gate not in GATES:
            raise EdgeDeployError(f"unknown attention gate {gate!r}", hint=f"use one of: {', '.join(GATES)}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid() if gate == "sigmoid" else nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


def positive_list(name: str, values: Sequence[int], model: str) -> list[int]:
    """``values`` as ints, or EdgeDeployError naming the parameter when one is not positive."""
    out = [int(v) for v in values]
    if not out or any(v < 1 for v in out):
        raise EdgeDeployError(f"{model}: {name} must be a non-empty list of positive integers, got {list(values)}",
                              hint=f"fix model.params.{name}")
    return out


def input_size_pair(input_size: Sequence[int] | int, model: str) -> tuple[int, int]:
    """``(H, W)`` from ``input_size`` (two positive integers, or one for a square input)."""
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or any(int(s) < 1 for s in size):
        raise EdgeDeployError(f"{model}: input_size must be two positive integers (H, W), got {input_size!r}",
                              hint="for example input_size: [32, 32]")
    return int(size[0]), int(size[1])


class ImageModel:
    """What every image / audio-feature model of the zoo answers besides its forward: the input
    shape it takes and the constructor parameters for another input shape (the trainer sets them
    from the data)."""

    input_shape: tuple[int, ...]

    @classmethod
    def input_params(cls, shape: Sequence[int]) -> dict:
        """Constructor parameters for an input of ``shape`` = (C, H, W)."""
        if len(shape) != 3:
            raise EdgeDeployError(f"{cls.__name__} takes (channels, height, width) inputs, not {tuple(shape)}",
                                  hint="train it on images (data.kind: images)")
        return {"in_channels": int(shape[0]), "input_size": [int(shape[1]), int(shape[2])]}
