"""ANTNet (Xiong, Kim and Hedau, "ANTNets: Mobile Convolutional Neural Networks for Resource
Efficient Image Classification", arXiv:1904.03775, 2019), sized for a microcontroller.

A stem convolution, then a chain of ANTBlocks: MobileNetV2's inverted residual (Sandler et al.,
CVPR 2018: a 1x1 expansion, a 3x3 depthwise convolution, a linear 1x1 projection, a residual
add when the block keeps its shape) with channel attention between the depthwise convolution and
the projection, where the paper models the channels' interdependency in the expanded space
(global average pool, two small fully connected layers, a sigmoid or hard-sigmoid gate, multiply);
then a 1x1 head convolution, global average pooling and the classifier.

Default input: ``(1, 32, 32)`` (one channel, 32 x 32: the digits example upsampled); any
``(C, H, W)`` via ``in_channels`` and ``input_size``. Every width is a list parameter, so a
channel-pruned ANTNet is described by its params (:meth:`ANTNet.width_params`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models.layers import ChannelAttention, ConvBN, ImageModel, conv_output_size, input_size_pair, positive_list
from edge_deploy.models.registry import register_model


class ANTBlock(nn.Module):
    """Inverted residual with channel attention: ``expand`` (1x1, BN, ReLU6), ``depthwise`` (3x3,
    BN, ReLU6), ``attention`` (:class:`ChannelAttention`), ``project`` (1x1, BN, no activation),
    plus the input when ``residual``."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, stride: int, attention: int,
                 residual: bool, size: Sequence[int], gate: str) -> None:
        super().__init__()
        if residual and (stride != 1 or in_channels != out_channels):
            raise EdgeDeployError(f"ANTNet: a residual block must keep its shape (stride 1, {in_channels} -> "
                                  f"{out_channels} channels, stride {stride})", hint="fix model.params.residual")
        self.expand = ConvBN(in_channels, hidden, (1, 1), (1, 1), size, activation="relu6")
        self.depthwise = ConvBN(hidden, hidden, (3, 3), (stride, stride), size, groups=hidden, activation="relu6")
        self.attention = ChannelAttention(hidden, attention, gate)
        self.project = ConvBN(hidden, out_channels, (1, 1), (1, 1), conv_output_size(size, (stride, stride)),
                              activation=None)
        self.residual = bool(residual)

    def forward(self, x):
        y = self.project(self.attention(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


@register_model("antnet")
class ANTNet(ImageModel, nn.Sequential):
    """ANTNet: ``stem``, ``block1`` ... ``blockN`` (:class:`ANTBlock`), ``head``, ``pool``,
    ``flatten``, [``dropout``], ``classifier``.

    Takes the input channels and ``input_size`` (H, W), the stem width and stride, per block its
    output ``channels`` and ``strides`` (same length), the expanded widths ``hidden`` (None:
    ``expansion`` x the block's input width), the attention widths ``attention`` (None: the
    expanded width / ``reduction``, at least 4), ``residual`` flags (None: where a block keeps
    its shape), the head width (0: no head convolution), the gate (``sigmoid`` or
    ``hard_sigmoid``), the class count and a dropout rate before the classifier. Input
    ``(N, in_channels, H, W)``, output logits ``(N, n_classes)``. Raises EdgeDeployError when the
    lists do not fit together.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_size: Sequence[int] = (32, 32),
        stem: int = 16,
        stem_stride: int = 2,
        channels: Sequence[int] = (16, 24, 24, 32, 32),
        strides: Sequence[int] = (1, 2, 1, 2, 1),
        expansion: int = 4,
        hidden: Sequence[int] | None = None,
        reduction: int = 8,
        attention: Sequence[int] | None = None,
        residual: Sequence[bool] | None = None,
        head: int = 64,
        gate: str = "sigmoid",
        n_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        size = input_size_pair(input_size, "ANTNet")
        channels = positive_list("channels", channels, "ANTNet")
        strides = positive_list("strides", strides, "ANTNet")
        inputs = [int(stem)] + channels[:-1]
        hidden = positive_list("hidden", hidden, "ANTNet") if hidden is not None else [int(expansion) * c for c in inputs]
        if attention is None:
            attention = [max(4, h // int(reduction)) for h in hidden]
        attention = positive_list("attention", attention, "ANTNet")
        if residual is None:
            residual = [s == 1 and i == o for s, i, o in zip(strides, inputs, channels)]
        lengths = {len(channels), len(strides), len(hidden), len(attention), len(residual)}
        if len(lengths) != 1:
            raise EdgeDeployError(
                f"ANTNet: channels, strides, hidden, attention and residual must have one entry per block "
                f"(got {len(channels)}, {len(strides)}, {len(hidden)}, {len(attention)}, {len(residual)})",
                hint="give one entry per block in each list (or leave hidden, attention and residual out)")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["stem"] = ConvBN(int(in_channels), int(stem), (3, 3), (stem_stride, stem_stride), size,
                                activation="relu6")
        size = conv_output_size(size, (stem_stride, stem_stride))
        for i, (c_in, h, c_out, s, a, r) in enumerate(zip(inputs, hidden, channels, strides, attention, residual), 1):
            layers[f"block{i}"] = ANTBlock(c_in, h, c_out, s, a, bool(r), size, gate)
            size = conv_output_size(size, (s, s))
        last = channels[-1]
        if head:
            layers["head"] = ConvBN(last, int(head), (1, 1), (1, 1), size, activation="relu6")
            last = int(head)
        layers["pool"] = nn.AdaptiveAvgPool2d(1)
        layers["flatten"] = nn.Flatten()
        if dropout:
            layers["dropout"] = nn.Dropout(float(dropout))
        layers["classifier"] = nn.Linear(last, int(n_classes))
        super().__init__(layers)
        self.input_shape = (int(in_channels), *input_size_pair(input_size, "ANTNet"))
        self._fixed = {"in_channels": int(in_channels), "input_size": list(self.input_shape[1:]),
                       "stem_stride": int(stem_stride), "strides": strides, "residual": [bool(r) for r in residual],
                       "gate": gate, "n_classes": int(n_classes), "dropout": float(dropout)}

    def width_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every width of this model (after channel pruning) written out."""
        blocks = [m for name, m in self.named_children() if name.startswith("block")]
        head = self.get_submodule("head").conv.out_channels if "head" in dict(self.named_children()) else 0
        return {**params, **self._fixed, "stem": self.get_submodule("stem").conv.out_channels,
                "channels": [b.project.conv.out_channels for b in blocks],
                "hidden": [b.expand.conv.out_channels for b in blocks],
                "attention": [b.attention.fc1.out_channels for b in blocks], "head": head}
