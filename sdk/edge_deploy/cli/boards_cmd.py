"""``edge-deploy boards``: list the boards edge-deploy can target."""

from __future__ import annotations

import json

import click


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


@click.command(name="boards")
@click.option("--json", "as_json", is_flag=True, help="Print the boards as JSON (for machines).")
def command(as_json: bool) -> None:
    """List the bundled boards: core, clock, memory, console UART, emulators and flashers."""
    from edge_deploy.boards import list_boards

    boards = list_boards()
    if as_json:
        entries = []
        for board in boards:
            entry = board.model_dump(mode="json")
            entry["emulators"] = list(board.emulators)
            entry["flashers"] = list(board.flashers)
            entries.append(entry)
        click.echo(json.dumps(entries, indent=2, sort_keys=True))
        return
    header = ("board", "core", "clock", "flash", "ram", "console", "emulators", "flashing")
    rows = [header]
    for board in boards:
        rows.append((
            board.name,
            board.cpu + ("+fpu" if board.has_fpu else ""),
            f"{board.clock_hz / 1e6:g} MHz",
            _size(board.memory.flash.size),
            _size(board.memory.ram.size),
            f"{board.console.kind}@{board.console.base:#x}",
            ",".join(board.emulators) or "-",
            ",".join(board.flashers) or "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
