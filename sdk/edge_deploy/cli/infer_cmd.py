"""``edge-deploy infer MODEL --inputs X.npy --out Y.npy``: run the int8 reference interpreter."""

from __future__ import annotations

import click


@click.command("infer")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--inputs", "inputs", required=True, type=click.Path(dir_okay=False),
              help="int8 or float32 .npy batch: N samples, each shaped like the model input without its batch "
                   "dimension, in the checkpoint's layout or the .tflite layout; float32 is quantized with the "
                   "input's scale and zero point.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the int8 outputs (.npy).")
@click.option("--rounding", type=click.Choice(["double", "single", "litert"]), default="double", show_default=True,
              help="Requantization rounding: double (TFLM / CMSIS-NN), single, or litert (the TFLite interpreter's).")
@click.option("--calib", default=None, help="For a checkpoint MODEL: calibration data (see 'quantize').")
def command(model, inputs, out, rounding, calib):
    """Run the int8 reference interpreter on a batch (MODEL: a .tflite or a checkpoint)."""
    import numpy as np

    from edge_deploy.fsutil import atomic_output_file
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.batchfile import check_samples, load_graph_batch, read_batch

    # Read and check the batch before the model: an empty or NaN batch is refused before any work.
    raw = check_samples(read_batch(inputs))
    torch_sample = None
    if str(model).endswith(".tflite"):
        from edge_deploy.tflite import load_tflite

        graph = load_tflite(model)
    else:
        from edge_deploy.quantize.pipeline import quantize_checkpoint
        from edge_deploy.train.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(model)
        graph = quantize_checkpoint(checkpoint, calib).graph
        torch_sample = checkpoint.input_shape
    batch = load_graph_batch(raw, graph, torch_sample)
    result = run(graph, batch, rounding=rounding)
    with atomic_output_file(out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result)
    click.echo(f"wrote {out}: {result.shape[0]} outputs of shape {tuple(result.shape[1:])} ({result.dtype})")
