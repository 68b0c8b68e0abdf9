"""Additive white Gaussian noise at a chosen signal-to-noise ratio, per window."""

from __future__ import annotations

import numpy as np


def add_awgn(x: np.ndarray, snr_db: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``x`` plus white Gaussian noise at ``snr_db`` decibels, measured per window.

    Takes windows ``(..., length)`` (raw or normalized), an SNR (a scalar, or one per window with
    the leading shape of ``x``) and a NumPy generator; returns float32. The noise power of each
    window is its own mean signal power divided by ``10 ** (snr_db / 10)``, as in the TICNN paper.
    """
    x = np.asarray(x, dtype=np.float64)
    snr = np.asarray(snr_db, dtype=np.float64)
    if snr.ndim:
        snr = snr.reshape(snr.shape + (1,) * (x.ndim - snr.ndim))
    signal_power = np.mean(x**2, axis=-1, keepdims=True)
    noise_std = np.sqrt(signal_power / 10.0 ** (snr / 10.0))
    return (x + rng.standard_normal(x.shape) * noise_std).astype(np.float32)


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Return the SNR in dB of ``noisy`` against ``clean``: total signal power over noise power."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noisy, dtype=np.float64) - clean
    return float(10.0 * np.log10(np.mean(clean**2) / np.mean(noise**2)))
