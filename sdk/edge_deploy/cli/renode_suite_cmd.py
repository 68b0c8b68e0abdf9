"""``edge-deploy renode-suite DIR --out suite.robot``: a Robot Framework suite for ``renode-test``."""

from __future__ import annotations

import click


@click.command("renode-suite")
@click.argument("build_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the suite (.robot); the ELF is referenced relative to it.")
@click.option("--board", "-b", help="Board of the build (default: the one it was built for); must match it.")
@click.option("--timeout", type=click.IntRange(1), default=60, show_default=True,
              help="Seconds each UART wait may take in the suite.")
def command(build_dir, out_path, board, timeout) -> None:
    """Write a Renode Robot suite that boots DIR/firmware.elf on its board and checks it answers.

    Run it in CI with `renode-test suite.robot` (docs/renode.md); edge-deploy is not needed there.
    """
    from edge_deploy.build.firmware_build import load_build_report
    from edge_deploy.emulators.renode_suite import write_robot_suite

    report = load_build_report(build_dir)
    path = write_robot_suite(build_dir, out_path, report=report, board=board, timeout_s=timeout)
    click.echo(f"wrote {path}: run it with `renode-test {path}`")
