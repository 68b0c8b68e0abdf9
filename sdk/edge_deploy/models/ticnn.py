"""TICNN (Zhang et al., MSSP 2018): a 1D CNN on the raw vibration window, WDCNN-shaped.

A wide first convolution (kernel 64, stride 8) acts as a learned band-pass filter; small 3-tap
convolutions follow, each with BatchNorm, ReLU and max-pool 2; then one hidden fully connected
layer and the class logits. Every layer is one the int8 code generator lowers (Conv1d, BatchNorm1d
folded into its convolution, ReLU, MaxPool1d, Flatten, Linear); the two dropouts are the identity
in eval mode, so lowering skips them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.models.registry import register_model


class ChangingRateDropout(nn.Dropout):
    """Dropout whose rate is drawn uniformly from ``[low, high]`` for every mini-batch (TICNN's
    first-layer input interference). The identity in eval mode, like ``nn.Dropout``.

    Written with tensor operations only, so torch.fx can trace it; the draw uses torch's global
    generator, so seeding torch makes training reproducible.
    """

    def __init__(self, low: float = 0.1, high: float = 0.9) -> None:
        if not 0.0 <= low <= high < 1.0:
            raise EdgeDeployError(
                f"input dropout range [{low}, {high}] is not inside [0, 1)",
                hint="use 0 <= low <= high < 1, for example [0.1, 0.9]",
            )
        super().__init__(p=high)
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.high == 0.0:
            return x
        rate = torch.empty((), device=x.device).uniform_(self.low, self.high)
        keep = (torch.rand_like(x) >= rate).to(x.dtype)
        return x * keep / (1.0 - rate)

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}"


def conv_output_length(length: int, kernel: int, stride: int, padding: int) -> int:
    """Return the output length of a 1-D convolution (or pooling) with these settings."""
    return (length + 2 * padding - kernel) // stride + 1


@register_model("ticnn")
class TICNN(nn.Sequential):
    """TICNN with configurable widths; a plain ``nn.Sequential`` of named layers.

    Takes the input channels and length, per-conv ``channels``, ``kernels``, ``strides`` and
    integer ``paddings`` (all the same length), the hidden FC width, the class count, the
    changing-rate input dropout range (None disables it) and an FC dropout rate. Input is
    ``(N, in_channels, input_length)``; output logits ``(N, n_classes)``. Raises EdgeDeployError
    when the settings do not fit together or shrink the signal to nothing.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_length: int = 2048,
        channels: Sequence[int] = (16, 32, 64, 64, 64),
        kernels: Sequence[int] = (64, 3, 3, 3, 3),
        strides: Sequence[int] = (8, 1, 1, 1, 1),
        paddings: Sequence[int] = (28, 1, 1, 1, 0),
        fc_units: int = 100,
        n_classes: int = 10,
        input_dropout: Sequence[float] | None = (0.1, 0.9),
        fc_dropout: float = 0.0,
    ) -> None:
        counts = {len(channels), len(kernels), len(strides), len(paddings)}
        if len(counts) != 1 or not channels:
            raise EdgeDeployError(
                f"TICNN: channels, kernels, strides and paddings must have the same non-zero length "
                f"(got {len(channels)}, {len(kernels)}, {len(strides)}, {len(paddings)})",
                hint="give one entry per convolution in each list",
            )
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if input_dropout is not None:
            layers["input_dropout"] = ChangingRateDropout(*input_dropout)
        length, previous = int(input_length), int(in_channels)
        for i, (width, kernel, stride, pad) in enumerate(zip(channels, kernels, strides, paddings), start=1):
            length = conv_output_length(length, int(kernel), int(stride), int(pad)) // 2
            if length < 1:
                raise EdgeDeployError(
                    f"TICNN: the signal shrinks to nothing at conv{i} (input length {input_length})",
                    hint="use a longer input, fewer convolutions or smaller strides",
                )
            layers[f"conv{i}"] = nn.Conv1d(previous, int(width), int(kernel), stride=int(stride), padding=int(pad))
            layers[f"bn{i}"] = nn.BatchNorm1d(int(width))
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"pool{i}"] = nn.MaxPool1d(2)
            previous = int(width)
        layers["flatten"] = nn.Flatten()
        layers["fc1"] = nn.Linear(previous * length, int(fc_units))
        layers["relu_fc1"] = nn.ReLU()
        if fc_dropout:
            layers["fc_dropout"] = nn.Dropout(float(fc_dropout))
        layers["fc2"] = nn.Linear(int(fc_units), int(n_classes))
        super().__init__(layers)
        self.input_shape = (int(in_channels), int(input_length))

    @classmethod
    def input_params(cls, shape: Sequence[int]) -> dict[str, Any]:
        """Constructor parameters for an input window of ``shape`` = (channels, length)."""
        if len(shape) != 2:
            raise EdgeDeployError(f"TICNN takes (channels, length) windows, not {tuple(shape)}",
                                  hint="train TICNN on signal windows (data.kind: windows)")
        return {"in_channels": int(shape[0]), "input_length": int(shape[1])}

    def width_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the widths of this model (after channel pruning): ``channels``, ``fc_units``."""
        convs = sorted((int(name[4:]), m) for name, m in self.named_children()
                       if name.startswith("conv") and name[4:].isdigit())
        return {**params, "channels": [m.out_channels for _, m in convs], "fc_units": self.fc1.out_features}
