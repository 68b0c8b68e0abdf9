"""Binomial confidence intervals for accuracies measured on a finite number of windows."""

from __future__ import annotations

import math


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``correct / total`` in percent
    (95 % for the default ``z``). ``total`` 0 gives (0, 100): nothing is known."""
    if total <= 0:
        return 0.0, 100.0
    p = correct / total
    denominator = 1.0 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def accuracy_interval(accuracy_percent: float, total: int) -> list[float]:
    """The 95 % Wilson interval, in percent rounded to 2 places, of an accuracy in percent
    measured on ``total`` windows."""
    correct = int(round(accuracy_percent * total / 100.0))
    low, high = wilson_interval(correct, total)
    return [round(low, 2), round(high, 2)]
