"""``edge-deploy check DIR --max-cycles N --max-arena B --max-flash B --min-accuracy A``: budgets for CI."""

from __future__ import annotations

import re

import click

_SIZE = re.compile(r"^\s*(\d+)\s*([KkMm]?)(?:i?B)?\s*$")


class ByteSize(click.ParamType):
    """Bytes, as a number or with a K / M suffix (1024-based), like the board files."""

    name = "BYTES"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if match is None:
            self.fail(f"'{value}' is not a size (bytes, or a number with K or M, e.g. 64K)", param, ctx)
        return int(match.group(1)) * {"": 1, "K": 1024, "M": 1024 * 1024}[match.group(2).upper()]


class Fraction(click.ParamType):
    """A fraction: 0.95, or a percentage: 95%."""

    name = "A"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip()
        try:
            number = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
        except ValueError:
            self.fail(f"'{value}' is not a fraction (0.95) or a percentage (95%)", param, ctx)
        return number


@click.command("check")
@click.argument("build_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option("--max-cycles", type=click.IntRange(1), help="Cycles per inference (the profile's sum over layers).")
@click.option("--max-latency-ms", type=click.FloatRange(0, min_open=True), help="Latency per inference at the board's clock.")
@click.option("--max-arena", type=ByteSize(), help="Tensor arena bytes (report.json).")
@click.option("--max-flash", type=ByteSize(), help="Flash bytes of firmware.elf (report.json).")
@click.option("--max-ram", type=ByteSize(), help="RAM bytes including the stack (report.json).")
@click.option("--min-accuracy", type=Fraction(), help="Accuracy of the int8 firmware on the data's test split (0.95 or 95%).")
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="Folder of CWRU-style records for --min-accuracy (default: the bundled excerpt).")
@click.option("--load", "load_hp", type=int, multiple=True, help="Motor load (HP) of the test windows; repeatable (default 0).")
@click.option("--max-windows", type=click.IntRange(1), help="Run at most this many test windows, spread evenly (faster CI).")
@click.option("--emulator", type=click.Choice(["qemu", "renode"]), help="Where to measure (default: QEMU).")
@click.option("--port", help="Measure on a board running the firmware instead (device path or pyserial URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (budgets.json) instead of the table.")
def command(build_dir, max_cycles, max_latency_ms, max_arena, max_flash, max_ram, min_accuracy, data, load_hp,
            max_windows, emulator, port, as_json) -> None:
    """Measure the build in DIR and hold it to budgets; exit 1 naming every budget exceeded.

    Sizes come from report.json, cycles and latency from a profile (written to DIR/profile.json),
    accuracy from the int8 firmware classifying the test split on the emulator. The result is
    written to DIR/budgets.json.
    """
    import json
    from pathlib import Path

    from edge_deploy.check.budgets import Budgets, check_budgets, format_table, format_value
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.fsutil import atomic_write_json

    budgets = Budgets(max_cycles=max_cycles, max_latency_ms=max_latency_ms, max_arena=max_arena,
                      max_flash=max_flash, max_ram=max_ram, min_accuracy=min_accuracy)
    result = check_budgets(build_dir, budgets, data=data, load_hp=tuple(load_hp) or (0,), max_windows=max_windows,
                           emulator=emulator, port=port)
    summary = result.to_dict()
    atomic_write_json(Path(build_dir) / "budgets.json", summary)
    if emulator == "renode" and min_accuracy is not None:
        from edge_deploy.profile.renode_ge_flags import ge_flags_warning

        note = ge_flags_warning(Path(build_dir) / "firmware.elf")
        if note:
            click.echo(f"warning: the accuracy was measured in Renode: {note}", err=True)
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(f"budgets for {build_dir} ({result.board}):")
        click.echo(format_table(result.rows))
    if result.failed:
        over = "; ".join(
            f"{row.name} {format_value(row.measured, row.unit)} {'>' if row.kind == 'max' else '<'} "
            f"{format_value(row.limit, row.unit)}" for row in result.failed)
        raise EdgeDeployError(
            f"{len(result.failed)} of {len(result.rows)} budgets not met: {over}",
            hint="see the table above; profile.md shows where the cycles go, plan.png where the arena goes",
        )
    click.echo(f"all {len(result.rows)} budgets met")
