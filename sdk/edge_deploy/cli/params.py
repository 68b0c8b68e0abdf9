"""Click parameter types the subcommands share."""

from __future__ import annotations

import math

import click


class Seconds(click.ParamType):
    """A duration in seconds: a finite number above 0 (0, negatives, nan and inf are refused
    when the command line is parsed, not when the wait starts)."""

    name = "seconds"

    def convert(self, value, param, ctx) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a duration: give a number of seconds above 0", param, ctx)
        return seconds


SECONDS = Seconds()
