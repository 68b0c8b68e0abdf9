"""Training's speed augmentation: a window resampled in time has its frequencies scaled by the
factor, factor 1 changes nothing but the z-scoring, and the config checks the range."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.config import parse_train_config
from edge_deploy.train.loop import augment_speed


def _peak_frequency(window: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(window.numpy() * np.hanning(window.numel())))
    return float(np.argmax(spectrum)) / window.numel()


@pytest.mark.parametrize("factor", [0.96, 1.0, 1.04])
@pytest.mark.parametrize("frequency", [0.02, 0.35])  # cycles per sample: a fault line, a resonance
def test_resampling_scales_every_frequency_by_the_factor(factor, frequency):
    t = torch.arange(4096, dtype=torch.float64)
    x = torch.sin(2 * np.pi * frequency * t).reshape(1, 1, -1)
    y = augment_speed(x, (factor, factor), torch.Generator().manual_seed(0))
    assert _peak_frequency(y[0, 0]) == pytest.approx(frequency * factor, abs=1.5 / 4096)
    # Lanczos keeps the amplitude of a high frequency (linear interpolation would halve it).
    assert float(y[0, 0].pow(2).mean()) == pytest.approx(1.0, abs=1e-6)  # z-scored
    middle = y[0, 0, 512:-512]
    assert float(middle.abs().max()) == pytest.approx(2 ** 0.5, rel=0.02)


def test_factor_one_is_the_identity_and_factors_vary_per_window():
    x = torch.randn(8, 1, 512, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False)
    same = augment_speed(x, (1.0, 1.0), torch.Generator().manual_seed(0))
    assert torch.allclose(same, z, atol=1e-9)
    varied = augment_speed(z, (0.95, 1.05), torch.Generator().manual_seed(0))
    changes = (varied - z).abs().mean(-1).flatten()
    assert len(set(changes.round(decimals=6).tolist())) == 8


def test_speed_range_is_checked():
    assert parse_train_config({"tricks": {"speed_augmentation": [0.97, 1.03]}}).tricks.speed_augmentation == (0.97, 1.03)
    with pytest.raises(EdgeDeployError, match="tricks.speed_augmentation"):
        parse_train_config({"tricks": {"speed_augmentation": [1.2, 0.9]}})
