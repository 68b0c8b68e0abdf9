"""DS-CNN for keyword spotting, as in the MLPerf Tiny KWS reference model (the "DS-CNN small" of
Zhang et al., "Hello Edge: Keyword Spotting on Microcontrollers", arXiv:1711.07128, 2017; MLPerf
Tiny's ``keyword_spotting/keras_model.py``).

Input: 49 frames x 10 MFCC coefficients, one channel: ``(1, 49, 10)``. A 10x4 convolution with
stride 2 (64 filters, SAME padding, BatchNorm, ReLU), dropout 0.2, four depthwise-separable
blocks (3x3 depthwise and 1x1 pointwise, each with BatchNorm and ReLU, 64 channels), dropout
0.4, average pooling over the whole 25 x 5 map, and a fully connected layer to the 12 classes
(10 words, silence, unknown). 2.66 M MACs, the reference's figure; the layers, shapes and MACs
equal those of MLPerf Tiny's ``kws_ref_model.tflite`` (``tests/test_models_zoo.py`` checks it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models.layers import ConvBN, ImageModel, conv_output_size, input_size_pair, positive_list
from edge_deploy.models.registry import register_model


@register_model("dscnn")
class DSCNN(ImageModel, nn.Sequential):
    """DS-CNN: ``conv1``, ``dropout1``, per block ``dw<i>`` and ``pw<i>`` (each :class:`ConvBN`),
    ``dropout2``, ``pool``, ``flatten``, ``fc``.

    Takes the input channels and ``input_size`` (frames, coefficients), ``channels`` (the first
    convolution's width, then one pointwise width per block), the first kernel and stride, the
    class count and both dropout rates. Input ``(N, in_channels, frames, coefficients)``, output
    logits ``(N, n_classes)``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_size: Sequence[int] = (49, 10),
        channels: Sequence[int] = (64, 64, 64, 64, 64),
        first_kernel: Sequence[int] = (10, 4),
        first_stride: Sequence[int] = (2, 2),
        n_classes: int = 12,
        dropout: Sequence[float] = (0.2, 0.4),
    ) -> None:
        size = input_size_pair(input_size, "DS-CNN")
        channels = positive_list("channels", channels, "DS-CNN")
        if len(dropout) != 2:
            raise EdgeDeployError(f"DS-CNN: dropout takes two rates (after the first convolution, before the "
                                  f"pool), got {list(dropout)}", hint="for example dropout: [0.2, 0.4]")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv1"] = ConvBN(int(in_channels), channels[0], tuple(first_kernel), tuple(first_stride), size)
        size = conv_output_size(size, first_stride)
        layers["dropout1"] = nn.Dropout(float(dropout[0]))
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:]), start=1):
            layers[f"dw{i}"] = ConvBN(c_in, c_in, (3, 3), (1, 1), size, groups=c_in)
            layers[f"pw{i}"] = ConvBN(c_in, c_out, (1, 1), (1, 1), size)
        layers["dropout2"] = nn.Dropout(float(dropout[1]))
        layers["pool"] = nn.AvgPool2d(tuple(size))  # the whole map, as the reference's AveragePooling2D
        layers["flatten"] = nn.Flatten()
        layers["fc"] = nn.Linear(channels[-1], int(n_classes))
        super().__init__(layers)
        self.input_shape = (int(in_channels), *input_size_pair(input_size, "DS-CNN"))
        self._fixed = {"in_channels": int(in_channels), "input_size": list(self.input_shape[1:]),
                       "first_kernel": [int(k) for k in first_kernel], "first_stride": [int(s) for s in first_stride],
                       "n_classes": int(n_classes), "dropout": [float(d) for d in dropout]}

    def width_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every width of this model (after channel pruning) written out."""
        widths = [self.conv1.conv.out_channels]
        widths += [m.conv.out_channels for name, m in self.named_children() if name.startswith("pw")]
        return {**params, **self._fixed, "channels": widths}
