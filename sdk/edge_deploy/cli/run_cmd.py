"""``edge-deploy run DIR --inputs X.npy --out Y.npy [--check]``: a build's firmware on inputs."""

from __future__ import annotations

import click

from edge_deploy.cli.params import SECONDS


@click.command("run")
@click.argument("build_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option("--inputs", "inputs_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Batch file (.npy): N samples shaped like the model input without its batch dimension.")
@click.option("--emulator", type=click.Choice(["qemu", "renode"]), help="Emulator to run in (default: the board's).")
@click.option("--port", help="Serial port of a board already running the firmware (device path or pyserial URL).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write the int8 outputs (.npy).")
@click.option("--check", is_flag=True, help="Compare with the reference interpreter; write DIR/check.json; fail on any mismatch.")
@click.option("--timeout", type=SECONDS, default=10.0, show_default=True,
              help="Seconds to wait for each reply (an inference may take up to a minute).")
def command(build_dir, inputs_path, emulator, port, out_path, check, timeout) -> None:
    """Send each input of X.npy to the firmware of build DIR, run it, collect the outputs."""
    from pathlib import Path

    import numpy as np

    from edge_deploy.build.device_run import (
        compare_outputs,
        counter_summary,
        load_input_batch,
        reference_outputs,
        run_batch,
        stack_summary,
    )
    from edge_deploy.build.firmware_build import load_build_report
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.fsutil import atomic_output_file, atomic_write_json

    report = load_build_report(build_dir)
    batch = load_input_batch(inputs_path, report)
    result = run_batch(build_dir, batch, emulator=emulator, port=port, timeout=timeout)
    with atomic_output_file(out_path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result.outputs)
    click.echo(f"{len(batch)} inputs run on {report['board']} ({port or result.target}); "
               f"outputs -> {out_path}; {counter_summary(result)}")
    click.echo(stack_summary(result))
    emulator_note = None
    if result.target == "renode":
        from edge_deploy.profile.renode_ge_flags import ge_flags_warning

        emulator_note = ge_flags_warning(Path(build_dir) / "firmware.elf")
        if emulator_note and not check:
            click.echo(f"warning: {emulator_note}", err=True)
    if not check:
        return
    summary = compare_outputs(result.outputs, reference_outputs(build_dir, batch))
    # The rounding the firmware was built with, which is also the interpreter policy compared with.
    summary.update(board=report["board"], kernels=report["kernels"], rounding=report.get("rounding", "cmsis-nn"),
                   inputs=Path(inputs_path).name)
    atomic_write_json(Path(build_dir) / "check.json", summary)
    if summary["mismatches"]:
        raise EdgeDeployError(
            f"{summary['mismatches']} of {summary['n']} outputs differ from the reference interpreter "
            f"({summary['mismatched_elements']} elements, largest difference {summary['max_abs_diff']}); "
            f"first samples: {summary['first_mismatches']}",
            hint=(f"{emulator_note}; see {Path(build_dir) / 'check.json'}" if emulator_note else
                  f"see {Path(build_dir) / 'check.json'}; rebuild with --kernels portable to tell a kernel bug "
                  "from a code generation bug"),
        )
    click.echo(f"check: {summary['n']} outputs, 0 mismatches with the reference interpreter")
