"""``edge-deploy selftest``: build the runtime for a board, start it, prove the serial link."""

from __future__ import annotations

import json

import click


@click.command(name="selftest")
@click.option("--board", "-b", default="mps2-an386", show_default=True, help="Board name or board YAML file.")
@click.option("--emulator", type=click.Choice(["qemu", "renode"]), default=None,
              help="Emulator to run the firmware in (default: the board's).")
@click.option("--port", default=None, metavar="URL",
              help="Serial port of a board already running the runtime firmware "
                   "(/dev/ttyACM0, socket://host:port, any pyserial URL) instead of an emulator.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Keep the built firmware in this folder (default: a temporary one).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random echo payloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def command(ctx: click.Context, board: str, emulator: str | None, port: str | None, out_dir: str | None,
            seed: int, as_json: bool) -> None:
    """Build the runtime firmware for BOARD, start it and prove the serial link.

    Checks device info, echo of random payloads from 1 byte to 4 KiB, rejection of a corrupt
    frame and recovery, garbage on the line, the cycle counter and (under an emulator) the
    exit of the firmware. Exits 0 only if every check passed.
    """
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.selftest import run_selftest

    if emulator and port:
        raise EdgeDeployError("--emulator and --port exclude each other", hint="give one of them")
    report = run_selftest(board, emulator=emulator, port=port, out_dir=out_dir, seed=seed)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.format())
    if not report.passed:
        ctx.exit(1)
