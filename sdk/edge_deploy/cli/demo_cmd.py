"""``edge-deploy demo [PIPELINE.yaml] --out DIR``: the whole job, measured on QEMU, with a summary."""

from __future__ import annotations

import click


@click.command("demo")
@click.argument("pipeline_path", metavar="[PIPELINE.yaml]", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the pipeline, the build, the test windows and summary.json (an earlier demo's is replaced).")
@click.option("--epochs", type=click.IntRange(1), help="Training epochs; also caps each slimming fine-tuning phase.")
@click.option("--board", "-b", default="mps2-an386", show_default=True, help="Board to build for; it must run on QEMU.")
@click.option("--kernels", type=click.Choice(["simd", "portable"]), default="simd", show_default=True,
              help="Kernel path of the firmware.")
@click.option("--max-windows", type=click.IntRange(1), help="Run at most this many test windows, spread evenly (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of the text summary.")
def command(pipeline_path, out_dir, epochs, board, kernels, max_windows, as_json) -> None:
    """Train, slim, quantize and build PIPELINE.yaml (default: the bundled TICNN pipeline,
    examples/pipeline_ticnn.yaml), run the test windows on QEMU against the reference
    interpreter, profile every layer, print a summary and write DIR/summary.json.

    Exits 1 when a stage fails or the firmware's outputs differ from the reference.
    """
    import json
    import sys

    from edge_deploy.demo import format_summary, run_demo
    from edge_deploy.errors import EdgeDeployError

    # Progress lines only for a person watching; a log gets the stage lines and the summary.
    log = (lambda line: click.echo(line, err=True)) if not as_json else None
    result = run_demo(out_dir, pipeline_path, board=board, epochs=epochs, max_windows=max_windows,
                      kernels=kernels, train_progress=sys.stderr.isatty() and not as_json, log=log)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2, sort_keys=True))
    else:
        click.echo("")
        click.echo(format_summary(result.summary, out_dir))
    if not result.passed:
        check = result.summary["check"]
        raise EdgeDeployError(
            f"the firmware's outputs differ from the reference interpreter on {check['mismatches']} of "
            f"{check['n']} test windows (largest difference {check['max_abs_diff']})",
            hint=f"see {out_dir}/build/check.json; rebuild with --kernels portable to tell a kernel bug from a "
                 "code generation bug",
        )
