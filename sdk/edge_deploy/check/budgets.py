"""Budgets for CI: measure a build and compare it with limits, one row per budget.

Sizes come from the build's ``report.json`` (what the linker and the planner produced); cycles
and latency from a profile (:func:`edge_deploy.check.profile_build`, QEMU by default, written to
``DIR/profile.json``); accuracy from the int8 firmware classifying the test split on the target
(:mod:`edge_deploy.check.accuracy`). Only what a budget was given for is measured.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError


@dataclass(frozen=True)
class Budgets:
    """The limits to check; None means "not checked"."""

    max_cycles: int | None = None
    max_latency_ms: float | None = None
    max_arena: int | None = None
    max_flash: int | None = None
    max_ram: int | None = None
    min_accuracy: float | None = None

    def is_empty(self) -> bool:
        """True when no budget was given."""
        return all(value is None for value in asdict(self).values())


@dataclass(frozen=True)
class BudgetRow:
    """One budget: its limit, what was measured, where, and whether it holds."""

    name: str
    unit: str
    limit: float
    measured: float
    kind: str            # "max" (measured must not exceed) or "min" (must reach)
    source: str

    @property
    def ok(self) -> bool:
        """True when the measurement is within the budget."""
        return self.measured <= self.limit if self.kind == "max" else self.measured >= self.limit


@dataclass(frozen=True)
class CheckResult:
    """Every budget row of one check, and the measurements behind them."""

    build_dir: Path
    board: str
    rows: list[BudgetRow]
    profile: dict[str, Any] | None = None
    accuracy: dict[str, Any] | None = field(default=None)

    @property
    def failed(self) -> list[BudgetRow]:
        """The rows over budget."""
        return [row for row in self.rows if not row.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``DIR/budgets.json``)."""
        return {
            "format": "edge-deploy/budget-check", "version": 1, "board": self.board,
            "passed": not self.failed,
            "budgets": [{**asdict(row), "ok": row.ok} for row in self.rows],
            "accuracy": self.accuracy,
        }


def format_value(value: float, unit: str) -> str:
    """A measurement or limit as the table shows it: bytes and cycles with separators, a
    fraction as a percentage, milliseconds with three decimals."""
    if unit == "fraction":
        return f"{value * 100:.2f} %"
    if unit == "ms":
        return f"{value:,.3f} ms"
    return f"{int(value):,} {unit}".rstrip()


def format_table(rows: list[BudgetRow]) -> str:
    """The budget table: budget, limit, measured, ok, and where each measurement came from."""
    header = ("budget", "limit", "measured", "ok", "measured by")
    body = [(row.name, f"{'<=' if row.kind == 'max' else '>='} {format_value(row.limit, row.unit)}",
             format_value(row.measured, row.unit), "ok" if row.ok else "EXCEEDED" if row.kind == "max" else "BELOW",
             row.source) for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *body]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def check_budgets(
    build_dir: str | os.PathLike,
    budgets: Budgets,
    *,
    data: str | os.PathLike | None = None,
    load_hp: tuple[int, ...] = (0,),
    max_windows: int | None = None,
    emulator: str | None = None,
    port: str | None = None,
) -> CheckResult:
    """Measure the build in ``build_dir`` against ``budgets`` and return the :class:`CheckResult`
    (it does not raise for a budget that is exceeded: the caller decides).

    Cycles and latency are profiled on ``emulator`` ("qemu" by default, or "renode": exact
    instructions and modelled cycles) or through ``port`` (the firmware's DWT counts); accuracy runs the
    test split of ``data`` (None: the bundled excerpt; ``load_hp``; at most ``max_windows``
    windows) through the firmware. Raises EdgeDeployError when no budget is given, the folder
    holds no build, or a measurement cannot be made.
    """
    from edge_deploy.boards import board_from_report
    from edge_deploy.build.firmware_build import load_build_report
    from edge_deploy.check.accuracy import firmware_accuracy
    from edge_deploy.check.build_profile import profile_build

    if budgets.is_empty():
        raise EdgeDeployError("no budget given, so there is nothing to check",
                              hint="pass at least one of --max-cycles, --max-latency-ms, --max-arena, "
                                   "--max-flash, --max-ram, --min-accuracy")
    if budgets.min_accuracy is not None and not 0.0 <= budgets.min_accuracy <= 1.0:
        raise EdgeDeployError(f"--min-accuracy {budgets.min_accuracy} is not a fraction",
                              hint="give it between 0 and 1 (0.95 for 95 %)")
    report = load_build_report(build_dir)
    rows: list[BudgetRow] = []
    sizes = [("arena", budgets.max_arena, "arena_bytes"), ("flash", budgets.max_flash, "flash_bytes"),
             ("ram", budgets.max_ram, "ram_bytes")]
    for name, limit, key in sizes:
        if limit is not None:
            rows.append(BudgetRow(name, "B", limit, report[key], "max", "report.json"))
    profile = None
    if budgets.max_cycles is not None or budgets.max_latency_ms is not None:
        profile = profile_build(build_dir, emulator=emulator, port=port)
        if profile["cycles"] is None:
            raise EdgeDeployError(f"{profile['machine']} counts {profile['source']} ticks, not cycles, so cycle and "
                                  "latency budgets cannot be checked there",
                                  hint="check them on QEMU (the default: the cycle model) or on a board (--port)")
        where = f"profile: {profile['source']} on {profile['machine']}"
        if budgets.max_cycles is not None:
            rows.append(BudgetRow("cycles", "cycles", budgets.max_cycles, profile["cycles"], "max", where))
        if budgets.max_latency_ms is not None:
            clock = board_from_report(report).clock_hz
            rows.append(BudgetRow("latency", "ms", budgets.max_latency_ms, profile["latency_ms"], "max",
                                  f"{where}, at {clock / 1e6:g} MHz"))
    accuracy = None
    if budgets.min_accuracy is not None:
        measured = firmware_accuracy(build_dir, report, data=data, load_hp=load_hp, max_windows=max_windows,
                                     emulator=emulator, port=port)
        accuracy = {"n": measured.n, "correct": measured.correct, "accuracy": round(measured.accuracy, 6),
                    "data": str(data) if data is not None else "bundled excerpt", "load_hp": list(load_hp),
                    "target": measured.where}
        rows.append(BudgetRow("accuracy", "fraction", budgets.min_accuracy, measured.accuracy, "min",
                              f"int8 firmware on {measured.where}, {measured.n} test windows"))
    return CheckResult(build_dir=Path(build_dir), board=report["board"], rows=rows, profile=profile,
                       accuracy=accuracy)
