"""``edge-deploy flash DIR --board B``: write a build's firmware to a real board through a debug probe."""

from __future__ import annotations

import click


@click.command("flash")
@click.argument("target", metavar="DIR", type=click.Path())
@click.option("--board", "board_name", required=True, help="Board name (edge-deploy boards) or path of a board YAML file.")
@click.option("--probe", "probe_id", help="Unique ID of the debug probe (any part of it), as `pyocd list` shows it.")
@click.option(
    "--tool",
    type=click.Choice(["auto", "pyocd", "openocd"]),
    default="auto",
    show_default=True,
    help="Flashing tool; auto tries pyOCD, then openocd, among those the board file names.",
)
@click.option("--interface", help="openocd probe config for boards whose openocd config names only the chip, e.g. interface/stlink.cfg.")
def command(target, board_name, probe_id, tool, interface) -> None:
    """Flash DIR/firmware.elf (or DIR itself, an .elf file) to the board, verify it and reset it."""
    from edge_deploy.flash import flash_firmware

    result = flash_firmware(target, board_name, probe=probe_id, tool=None if tool == "auto" else tool, interface=interface)
    via = f" via probe {result.probe}" if result.probe else ""
    click.echo(
        f"flashed {result.elf} ({result.flash_bytes} bytes) to {result.board} with {result.tool}{via} in {result.seconds:.1f} s"
    )
    if result.serial_ports:
        port = result.serial_ports[0]
        click.echo(f"serial port: {', '.join(result.serial_ports)}")
        click.echo(f"next: edge-deploy run {target} --port {port}   (or: edge-deploy profile {target} --port {port})")
    else:
        click.echo("no USB serial port found for the board; see docs/boards-hardware.md (finding the serial port)")
