"""MobileNetV1 for visual wake words, as in the MLPerf Tiny VWW reference model (Howard et al.,
"MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
arXiv:1704.04861, 2017, width multiplier 0.25; Chowdhery et al., "Visual Wake Words Dataset",
arXiv:1906.05721, 2019; MLPerf Tiny's ``visual_wake_words/vww_model.py``).

Input: a 96 x 96 RGB image, ``(3, 96, 96)``. A 3x3 stride-2 convolution, thirteen
depthwise-separable blocks (3x3 depthwise and 1x1 pointwise, each with BatchNorm and ReLU; the
standard widths 64 ... 1024 times ``alpha``, stride 2 at blocks 2, 4, 6 and 12), average pooling
over the whole 3 x 3 map and a fully connected layer to the 2 classes (person, no person). All
padding is TensorFlow's SAME. 7.49 M MACs: the layers, shapes and MACs equal those of MLPerf
Tiny's ``vww_96_int8.tflite`` (``tests/test_models_zoo.py`` checks it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models.layers import ConvBN, ImageModel, conv_output_size, input_size_pair, positive_list
from edge_deploy.models.registry import register_model

# MobileNetV1's widths at alpha 1 (the first convolution, then each block's pointwise) and strides.
STANDARD_WIDTHS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
STANDARD_STRIDES = (2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)


@register_model("mobilenet_v1")
class MobileNetV1(ImageModel, nn.Sequential):
    """MobileNetV1: ``conv1``, per block ``dw<i>`` and ``pw<i>`` (each :class:`ConvBN`), ``pool``,
    ``flatten``, [``dropout``], ``fc``.

    Takes the input channels and ``input_size``, the width multiplier ``alpha`` or explicit
    ``channels`` (the first convolution's width, then one per block), ``strides`` (the first
    convolution's, then one per block's depthwise), the class count and a dropout rate before the
    classifier. Input ``(N, in_channels, H, W)``, output logits ``(N, n_classes)``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        input_size: Sequence[int] = (96, 96),
        alpha: float = 0.25,
        channels: Sequence[int] | None = None,
        strides: Sequence[int] = STANDARD_STRIDES,
        n_classes: int = 2,
        dropout: float = 0.0,
    ) -> None:
        size = input_size_pair(input_size, "MobileNetV1")
        if channels is None:
            channels = [max(1, int(w * float(alpha))) for w in STANDARD_WIDTHS]
        channels = positive_list("channels", channels, "MobileNetV1")
        strides = positive_list("strides", strides, "MobileNetV1")
        if len(channels) != len(strides):
            raise EdgeDeployError(f"MobileNetV1: channels and strides need one entry per layer "
                                  f"(got {len(channels)} and {len(strides)})", hint="fix model.params")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv1"] = ConvBN(int(in_channels), channels[0], (3, 3), (strides[0], strides[0]), size)
        size = conv_output_size(size, (strides[0], strides[0]))
        for i, (c_in, c_out, s) in enumerate(zip(channels[:-1], channels[1:], strides[1:]), start=1):
            layers[f"dw{i}"] = ConvBN(c_in, c_in, (3, 3), (s, s), size, groups=c_in)
            size = conv_output_size(size, (s, s))
            layers[f"pw{i}"] = ConvBN(c_in, c_out, (1, 1), (1, 1), size)
        layers["pool"] = nn.AvgPool2d(tuple(size))  # the whole map, as the reference's AveragePooling2D
        layers["flatten"] = nn.Flatten()
        if dropout:
            layers["dropout"] = nn.Dropout(float(dropout))
        layers["fc"] = nn.Linear(channels[-1], int(n_classes))
        super().__init__(layers)
        self.input_shape = (int(in_channels), *input_size_pair(input_size, "MobileNetV1"))
        self._fixed = {"in_channels": int(in_channels), "input_size": list(self.input_shape[1:]),
                       "strides": strides, "n_classes": int(n_classes), "dropout": float(dropout)}

    def width_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every width of this model (after channel pruning) written out."""
        widths = [self.conv1.conv.out_channels]
        widths += [m.conv.out_channels for name, m in self.named_children() if name.startswith("pw")]
        return {**params, **self._fixed, "channels": widths}
