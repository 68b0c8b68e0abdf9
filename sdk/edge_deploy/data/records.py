"""A record is one long signal of one class: what every loader produces before windowing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_deploy.errors import EdgeDeployError


@dataclass(frozen=True)
class Record:
    """One continuous signal of one class.

    ``signal`` is float32, 1-D, at ``sample_rate_hz``; ``label`` indexes the loader's class list;
    ``source`` names where it came from (a file path or an excerpt entry) for error messages.
    """

    signal: np.ndarray
    label: int
    sample_rate_hz: int
    source: str
    load_hp: int | None = None


def resample_signal(signal: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample ``signal`` from ``from_hz`` to ``to_hz`` with a polyphase anti-alias FIR filter.

    Takes a 1-D array and two positive integer rates; returns float32. A 48 kHz record becomes
    12 kHz by keeping every 4th sample of the low-passed signal (cut-off just under 6 kHz), so
    nothing above the new Nyquist frequency folds back into the band.
    """
    from scipy.signal import resample_poly

    if from_hz == to_hz:
        return np.asarray(signal, dtype=np.float32)
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} -> {to_hz}")
    common = math.gcd(int(from_hz), int(to_hz))
    up, down = int(to_hz) // common, int(from_hz) // common
    # Kaiser window with beta 8 gives about 80 dB of stop-band rejection.
    out = resample_poly(np.asarray(signal, dtype=np.float64), up, down, window=("kaiser", 8.0))
    return out.astype(np.float32)


def as_signal(array: np.ndarray, source: str) -> np.ndarray:
    """Return ``array`` as a finite float32 1-D signal (a single column or row is accepted).

    Raises EdgeDeployError naming ``source`` if it is not one-dimensional, empty or not finite.
    """
    arr = np.asarray(array)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.size == 0:
        raise EdgeDeployError(
            f"{source}: expected a one-dimensional signal, got an array of shape {tuple(np.shape(array))}",
            hint="store one channel per file, as a single row or column of samples",
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise EdgeDeployError(f"{source}: the signal is not numeric (dtype {arr.dtype})", hint="store numbers only")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise EdgeDeployError(f"{source}: the signal holds NaN or infinite samples", hint="clean or drop the file")
    return arr
