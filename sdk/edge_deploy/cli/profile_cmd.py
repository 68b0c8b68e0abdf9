"""``edge-deploy profile DIR [--timing BOARD | --emulator renode | --port URL]``: per-layer
instructions, memory accesses and cycles."""

from __future__ import annotations

import click


@click.command("profile")
@click.argument("build_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option("--emulator", type=click.Choice(["qemu", "renode"]),
              help="qemu (default) or renode: exact instructions + Cortex-M4 cycle model.")
@click.option("--port", help="Serial port of a board running the build's firmware (device path or pyserial URL): DWT cycles.")
@click.option("--inputs", "inputs_path", type=click.Path(dir_okay=False, exists=True),
              help="Batch file (.npy) whose first sample is profiled (default: a fixed pseudo-random input).")
@click.option("--timing", "timing_board", metavar="BOARD",
              help="QEMU profile: apply BOARD's memory timing and clock (flash wait states, accelerator) "
                   "instead of the build board's; for boards QEMU cannot emulate.")
@click.option("--runs", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Inferences on a board (--port); each layer's minimum is reported.")
@click.option("--json", "as_json", is_flag=True, help="Print profile.json instead of the table.")
def command(build_dir, emulator, port, inputs_path, timing_board, runs, as_json) -> None:
    """Profile the build in DIR; write DIR/profile.json, profile.md and profile.png.

    On QEMU every instruction and memory access is counted (exact, deterministic) and cycles
    come from the Cortex-M4 model with the memory timing of the build's board or of --timing
    BOARD (docs/cycle-model.md); in Renode every instruction is counted and the same model
    prices it at zero wait states (Renode counts no memory accesses); on a board (--port) the
    firmware's own cycle counter times each layer (no instruction counts there).
    """
    import json
    import time
    from pathlib import Path

    from edge_deploy.check import profile_build

    start = time.monotonic()
    data = profile_build(build_dir, emulator=emulator, port=port, inputs=inputs_path, timing=timing_board,
                         runs=runs)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(Path(build_dir, "profile.md").read_text().split("\n## ")[0].rstrip())
    click.echo(f"\n{data['source']} profile of {data['board']} in {time.monotonic() - start:.1f} s -> "
               f"{Path(build_dir) / 'profile.json'}, profile.md, profile.png")
