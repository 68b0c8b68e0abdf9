"""``edge-deploy quantize MODEL --calib DATA --out model.tflite``: int8 post-training quantization
of a model.pt checkpoint, a ``torch.export`` program (``model.pt2``) or a module of the user's own
code (``--model package.module:factory``), with edge-deploy's quantizer; or of a Keras /
TensorFlow model, with TensorFlow's converter."""

from __future__ import annotations

import click


@click.command("quantize")
@click.argument("model", required=False, type=click.Path())
@click.option("--model", "factory", default=None, metavar="PACKAGE.MODULE:FACTORY",
              help="Instead of MODEL: a function of your own code returning an nn.Module, exported with torch.export.")
@click.option("--weights", default=None, type=click.Path(dir_okay=False, exists=True),
              help="With --model: a state dict (torch.save(model.state_dict(), path)) to load.")
@click.option("--input-shape", "input_shape", default=None, help="With --model: the input shape, e.g. 1,3,96,96.")
@click.option("--calib-labels", "calib_labels", default=None, type=click.Path(dir_okay=False, exists=True),
              help="For a .pt2 / --model with --report: labels of the --calib samples (.npy), for float and int8 accuracy.")
@click.option("--calib", default=None, help="Calibration data: a float .npy batch (N, C, L) or (N, 1, L, C), or a data folder "
              "(default: the checkpoint's training data; a Keras / TensorFlow model needs a .npy batch).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the int8 .tflite.")
@click.option("--method", type=click.Choice(["minmax", "percentile"]), default="minmax", show_default=True,
              help="How activation ranges are taken from the calibration data.")
@click.option("--percentile", type=float, default=99.99, show_default=True, help="Percentile for --method percentile.")
@click.option("--count", type=click.IntRange(1), default=256, show_default=True, help="Calibration windows to use at most.")
@click.option("--report", is_flag=True, help="Print per-layer scales and the float-vs-int8 test accuracy (Keras / TensorFlow: "
              "the float vs int8 top-1 agreement on the calibration samples).")
@click.option("--data", default=None, help="Data folder for the --report accuracy (default: the checkpoint's).")
@click.option("--float-io", "float_io", is_flag=True,
              help="Keras / TensorFlow models: keep a float32 input and output (the model quantizes its own input).")
def command(model, factory, weights, input_shape, calib_labels, calib, out, method, percentile, count, report, data,
            float_io):
    """Quantize MODEL to int8 (TFLite scheme) and write it as a .tflite file.

    MODEL is a model.pt checkpoint, a torch.export program (.pt2; or --model), or a Keras model
    (.keras) or SavedModel folder, converted by TensorFlow's converter (full-integer; needs
    pip install "edge-deploy[tensorflow]").
    """
    import os

    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.quantize.tf_convert import is_tensorflow_model

    if model is not None and not factory and is_tensorflow_model(model):
        if method != "minmax" or data is not None:
            raise EdgeDeployError("--method, --percentile and --data apply to model.pt checkpoints; TensorFlow's "
                                  "converter takes min / max ranges from --calib", "drop those options")
        _quantize_tensorflow(model, calib, out, count, report, float_io)
        return
    if float_io:
        raise EdgeDeployError("--float-io applies to Keras / TensorFlow models",
                              "a model.pt or .pt2 is quantized with an int8 interface; drop --float-io")
    if factory or (model and str(model).endswith(".pt2")):
        return _quantize_program(model, factory, weights, input_shape, calib_labels, calib, out, method,
                                 percentile, count, report)
    if model is None:
        raise click.UsageError("give MODEL (a .pt checkpoint, .pt2 program, .keras or SavedModel folder) "
                               "or --model package.module:factory")
    if os.path.isdir(model):
        raise EdgeDeployError(f"{model} is a folder but not a SavedModel (it holds no saved_model.pb)",
                              "pass a model.pt checkpoint, a .pt2, a .keras file or a SavedModel folder")
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.pipeline import compare_accuracy, quantize_checkpoint
    from edge_deploy.tflite import export_tflite
    from edge_deploy.train.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(model)
    result = quantize_checkpoint(checkpoint, calib, method=method, percentile=percentile, count=count)
    data_bytes = export_tflite(result.graph, out)
    click.echo(f"wrote {out} ({len(data_bytes)} bytes, {len(result.graph.ops)} ops)")
    pruned = sum("act_threshold" in op.attrs for op in result.graph.ops)
    if pruned:
        click.echo(f"note: {pruned} activation-pruning thresholds are not expressible in a .tflite; "
                   "build from the model.pt to keep them (edge-deploy build)")
    if report:
        click.echo(f"{'layer':<12} {'kind':<18} {'shape':<18} {'scale':>11} {'zp':>5}  weight scales")
        for row in result.report["layers"]:
            weights = f"{row['weight_scale_min']:.3g}..{row['weight_scale_max']:.3g}" if "weight_scale_min" in row else ""
            click.echo(f"{row['layer']:<12} {row['kind']:<18} {str(tuple(row['shape'])):<18} "
                       f"{row['scale']:>11.5g} {row['zero_point']:>5}  {weights}")
        accuracy = compare_accuracy(checkpoint, result.graph, data)
        result.report["accuracy"] = accuracy
        click.echo(f"accuracy on {accuracy['windows']} {accuracy['split']} windows: float "
                   f"{100 * accuracy['float_accuracy']:.2f} %, int8 {100 * accuracy['int8_accuracy']:.2f} % "
                   f"(agreement {100 * accuracy['agreement']:.2f} %)")
        atomic_write_json(str(out) + ".report.json", result.report)


def program_from_options(model, factory, weights, input_shape):
    """The ExportedProgram MODEL (.pt2) or --model names, and a name for the graph."""
    from pathlib import Path

    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.quantize.exported import export_factory, load_program, parse_shape

    if factory:
        if model:
            raise EdgeDeployError("give MODEL or --model, not both")
        if not input_shape:
            raise EdgeDeployError("--model needs --input-shape", "e.g. --input-shape 1,3,96,96")
        return export_factory(factory, parse_shape(input_shape), weights), factory.rpartition(":")[2]
    if weights or input_shape:
        raise EdgeDeployError("--weights and --input-shape go with --model", "a .pt2 holds its weights and shape")
    return load_program(model), Path(model).stem


def _quantize_program(model, factory, weights, input_shape, calib_labels, calib, out, method, percentile, count, report):
    import numpy as np

    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.quantize.batchfile import read_batch
    from edge_deploy.quantize.exported import calibration_inputs, compare_program, quantize_program
    from edge_deploy.tflite import export_tflite

    program, name = program_from_options(model, factory, weights, input_shape)
    result = quantize_program(program, calib, name=name, method=method, percentile=percentile, count=count)
    data_bytes = export_tflite(result.graph, out)
    click.echo(f"wrote {out} ({len(data_bytes)} bytes, {len(result.graph.ops)} ops)")
    if report:
        click.echo(f"{'layer':<28} {'kind':<18} {'shape':<18} {'scale':>11} {'zp':>5}")
        for row in result.report["layers"]:
            click.echo(f"{row['layer']:<28} {row['kind']:<18} {str(tuple(row['shape'])):<18} "
                       f"{row['scale']:>11.5g} {row['zero_point']:>5}")
        x = calibration_inputs(program, calib, count=np.iinfo(np.int64).max)
        labels = read_batch(calib_labels, "calibration labels") if calib_labels else None
        comparison = compare_program(program, result.graph, x, labels)
        result.report["comparison"] = comparison
        line = f"float vs int8 on {comparison['samples']} --calib samples: top-1 agreement {100 * comparison['agreement']:.2f} %"
        if labels is not None:
            line += (f", accuracy float {100 * comparison['float_accuracy']:.2f} %, "
                     f"int8 {100 * comparison['int8_accuracy']:.2f} %")
        click.echo(line)
        atomic_write_json(str(out) + ".report.json", result.report)


def _quantize_tensorflow(model, calib, out, count, report, float_io) -> None:
    from pathlib import Path

    from edge_deploy.fsutil import atomic_write_bytes, atomic_write_json
    from edge_deploy.quantize.tf_convert import convert_tensorflow, top1_agreement
    from edge_deploy.tflite import import_tflite

    conversion = convert_tensorflow(model, calib, float_io=float_io, count=count)
    # Imported before it is written: a model edge-deploy cannot build is refused, not left on disk.
    graph = import_tflite(conversion.tflite, name=Path(model).stem, source=f"{model} (converted)")
    atomic_write_bytes(out, conversion.tflite)
    interface = "float32" if float_io else "int8"
    click.echo(f"wrote {out} ({len(conversion.tflite)} bytes, {len(graph.ops)} ops, {interface} input and output; "
               f"TensorFlow's converter, {len(conversion.calibration)} calibration samples)")
    if report:
        agreement = top1_agreement(conversion.float_model, graph, conversion.calibration)
        click.echo(f"float vs int8 (reference interpreter) on the {agreement['inputs']} calibration samples: "
                   f"top-1 agreement {100 * agreement['agreement']:.2f} %, largest output difference "
                   f"{agreement['max_abs_error']:.4g}")
        atomic_write_json(str(out) + ".report.json", {"converter": "tensorflow", "float_io": float_io,
                                                      "calibration_samples": len(conversion.calibration),
                                                      "agreement": agreement})
