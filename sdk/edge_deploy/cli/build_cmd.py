"""``edge-deploy build MODEL --board B --out DIR``: int8 model -> C project, firmware.elf, report."""

from __future__ import annotations

import click


@click.command("build")
@click.argument("model_path", metavar="MODEL", required=False, type=click.Path())
@click.option("--model", "factory", default=None, metavar="PACKAGE.MODULE:FACTORY",
              help="Instead of MODEL: a function of your own code returning an nn.Module, exported with torch.export "
                   "(needs --input-shape and --calib X.npy).")
@click.option("--weights", default=None, type=click.Path(dir_okay=False, exists=True),
              help="With --model: a state dict (torch.save(model.state_dict(), path)) to load.")
@click.option("--input-shape", "input_shape", default=None, help="With --model: the input shape, e.g. 1,3,96,96.")
@click.option("--board", "-b", required=True, help="Target board (see 'edge-deploy boards').")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Build folder (replaced).")
@click.option("--kernels", type=click.Choice(["simd", "portable"]), default="simd", show_default=True,
              help="Kernel path: the Cortex-M4 DSP SIMD code or the portable C code.")
@click.option("--cmsis-nn", "cmsis_nn", type=click.Path(file_okay=False, exists=True),
              help="Link upstream CMSIS-NN from this checkout (v6.0.0 or later) instead of edge-deploy's kernels: "
                   "calls follow its API, only the sources the model calls are compiled; a layer no upstream "
                   "function can run keeps edge-deploy's kernel (no Winograd or sparse kernels).")
@click.option("--calib", type=click.Path(exists=True),
              help="Calibration data for a .pt checkpoint (folder or .npy; default: the checkpoint's data), "
                   "or for a .pt2 / --model / Keras / TensorFlow model (a float .npy batch, required).")
@click.option("--sparse", type=click.Choice(["auto", "off", "force", "force-group4", "force-csr"]), default="auto", show_default=True,
              help="Sparse kernels for pruned conv / fully connected layers: per layer when fewer instructions "
                   "(auto), never (off), always (force: the cheaper sparse kernel; force-group4 / force-csr: that one).")
@click.option("--winograd", type=click.Choice(["auto", "off", "force"]), default="auto", show_default=True,
              help="Winograd F(4,3) kernel along the rows of dense convolutions (1-D and 2-D, dilation 1): per "
                   "layer when fewer modelled cycles (auto; SIMD path only), never (off), wherever it can run "
                   "(force). Its transformed filters take about 4x the int8 bytes: see --flash-limit.")
@click.option("--flash-limit", "flash_limit", type=click.IntRange(min=1), default=None, metavar="BYTES",
              help="A flash budget below the board's: kernels that trade flash for speed (Winograd's filters) "
                   "are given back layer by layer, the fewest cycles lost per byte first, until the firmware "
                   "fits; refused when it cannot.")
@click.option("--rounding", type=click.Choice(["cmsis-nn", "litert"]), default="cmsis-nn", show_default=True,
              help="Requantization: bit-exact with TFLM + CMSIS-NN (double rounding), or with the TFLite "
                   "interpreter's reference kernels (litert: single rounding on FULLY_CONNECTED). "
                   "run --check compares with the same.")
@click.option("--stack", type=click.Choice(["auto", "board"]), default="auto", show_default=True,
              help="Stack to reserve: the high-water mark measured on QEMU plus a margin (auto, where QEMU "
                   "runs the board; else the board's), or the board file's stack_bytes (board).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of a summary.")
def command(model_path, factory, weights, input_shape, board, out_dir, kernels, cmsis_nn, calib, sparse, winograd,
            rounding, stack, flash_limit, as_json) -> None:
    """Generate C for MODEL (.tflite, model.pt, a torch.export .pt2, a pipeline .yaml, or a .keras file /
    SavedModel folder converted by TensorFlow's converter; or --model), compile it for BOARD and write DIR.

    DIR gets src/ (a plain project: make), firmware.elf, firmware.map, model.tflite, report.json,
    plan.json and plan.png. A model that does not fit the board is refused before compiling.
    """
    import json
    import os
    import tempfile
    import time

    from edge_deploy.build.firmware_build import build_model

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edge-deploy-export-") as tmp:
        if factory or weights or input_shape:
            # A module of the user's code: exported here, then built as the .pt2 it becomes.
            import torch

            from edge_deploy.cli.quantize_cmd import program_from_options

            program, name = program_from_options(model_path, factory, weights, input_shape)
            model_path = os.path.join(tmp, f"{name}.pt2")
            torch.export.save(program, model_path)
        elif model_path is None:
            raise click.UsageError("give MODEL or --model package.module:factory")
        result = build_model(model_path, board, out_dir, kernels=kernels, cmsis_nn=cmsis_nn, calib=calib,
                             sparse=sparse, winograd=winograd, rounding=rounding, stack=stack,
                             flash_limit=flash_limit)
    report = result.report
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(f"{report['model']} for {report['board']} ({report['kernels']} kernels, {report['rounding']} rounding) "
               f"-> {out_dir} in {time.monotonic() - start:.1f} s")
    if report.get("cmsis_nn"):
        upstream = report["cmsis_nn"]
        level = f"API of v{upstream['api_level']} or later" if upstream["api_level"] else "API older than v4.0.0"
        fallback = (f"; edge-deploy's kernels for {', '.join(upstream['fallback_layers'])} (no upstream function)"
                    if upstream["fallback_layers"] else "")
        click.echo(f"  CMSIS-NN {upstream['path']} ({level}){fallback}")
    click.echo(f"  flash {report['flash_bytes']:,} B (weights {report['weights_bytes']:,} B"
               + (f", {report['model_weights_bytes']:,} B in the model"
                  if report["weights_bytes"] != report["model_weights_bytes"] else "")
               + (f"; limit {report['flash_limit_bytes']:,} B" if report.get("flash_limit_bytes") else "") + "), "
               f"RAM {report['ram_bytes']:,} B (arena {report['arena_bytes']:,} B, lower bound "
               f"{report['arena_lower_bound_bytes']:,} B at {report['arena_peak_layer']}"
               + (f", {report['arena_shared_bound_bytes']:,} B with every output over its input (not placed)"
                  if report["arena_shared_bound_bytes"] < report["arena_lower_bound_bytes"] else "") + "; "
               + (f"state {report['state_bytes']:,} B; " if report.get("state_bytes") else "")
               + f"runtime buffers {report['runtime_buffer_bytes']:,} B; "
               f"stack {report['stack_bytes']:,} B)")
    click.echo(f"  stack: {report['stack_source']}")
    click.echo(f"  {report['n_layers']} layers, {report['macs']:,} MACs per inference; kernels priced at "
               f"{report['cost_model']['priced_at']}")
    for layer in report["layers"]:
        kernel = layer["kernel"] or (f"(fused into {layer['fused_into']})" if layer.get("fused_into")
                                     else "(view, no code)")
        shapes = " + ".join(str(tuple(s)) for s in layer["input_shapes"])
        click.echo(f"  {layer['short_name']:<24} {layer['op']:<17} {kernel:<36} {shapes} -> "
                   f"{tuple(layer['output_shape'])}")
        if layer.get("sparsity"):
            click.echo(f"  {'':<24} {layer['sparsity']['reason']}")
        if (layer.get("winograd") or {}).get("use"):
            click.echo(f"  {'':<24} {layer['winograd']['reason']}")
