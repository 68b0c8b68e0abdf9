"""``edge-deploy slim MODEL --method ... --out DIR``: a smaller checkpoint and ``slim.json``."""

from __future__ import annotations

import click


def _split_list(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("slim")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--method", "-m", "methods", multiple=True, required=True,
              help="slimming, scalpel or activation; repeat (or comma-separate) to chain, e.g. -m slimming -m scalpel.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Slim config YAML (see examples/slim_ticnn.yaml).")
@click.option("--data", "data_dir", help="Fine-tuning data folder ('bundled' = the excerpt; default: the model's training data).")
@click.option("--ratio", type=float, help="Network Slimming: fraction of channels to remove.")
@click.option("--passes", type=int, help="Network Slimming: number of prune/fine-tune passes.")
@click.option("--channel-multiple", type=click.IntRange(min=1),
              help="Network Slimming: round each layer's kept channels up to a multiple of this (default 4; 1 = exact).")
@click.option("--sparsity", help="Scalpel: fraction of weight groups to prune per layer, or 'sensitivity'.")
@click.option("--group-size", type=int, help="Scalpel: weights per group (4 = one int8 word, 2 = SMLAD pair, 1 = unstructured).")
@click.option("--budget", type=float, help="Activation pruning: accuracy-loss budget in points.")
@click.option("--epochs", type=float, help="Epochs of every (re)training step (sparsity training, fine-tuning, retraining).")
@click.option("--max-loss", type=float, help="Fail if validation accuracy drops by more points than this.")
@click.option("--sweep", "sweep_values",
              help="Comma-separated values of the (single) method's knob (ratio, sparsity or budget): write the curve.")
@click.option("--measure-on", "measure_board", metavar="BOARD",
              help="With --sweep: build every point and count its instructions on QEMU (e.g. mps2-an386).")
@click.option("--int8", is_flag=True, help="Also report int8 test accuracy (post-training quantization, reference interpreter).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
def command(model_path, methods, config_path, data_dir, ratio, passes, channel_multiple, sparsity, group_size, budget,
            epochs, max_loss, sweep_values, measure_board, int8, out_dir) -> None:
    """Slim MODEL (a model.pt): write DIR/model.pt and DIR/slim.json (or, with --sweep, a curve)."""
    from pathlib import Path

    import torch

    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.slim.config import load_slim_config, parse_slim_config
    from edge_deploy.slim.pipeline import check_methods, load_slim_data, run_slim
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    methods = check_methods(_split_list(methods))
    config = load_slim_config(config_path)
    if ratio is not None:
        config.slimming.ratio = ratio
    if passes is not None:
        config.slimming.passes = passes
    if channel_multiple is not None:
        config.slimming.channel_multiple = channel_multiple
    if sparsity is not None:
        try:
            config.scalpel.sparsity = sparsity if sparsity == "sensitivity" else float(sparsity)
        except ValueError:
            raise EdgeDeployError(f"--sparsity {sparsity!r} is neither a fraction nor 'sensitivity'",
                                  hint="for example --sparsity 0.8") from None
    if group_size is not None:
        config.scalpel.group_size = group_size
    if budget is not None:
        config.activation.budget = budget
    if epochs is not None:
        config.slimming.sparsity_epochs = config.slimming.finetune_epochs = epochs
        config.scalpel.retrain_epochs = epochs
    if max_loss is not None:
        config.max_accuracy_loss = max_loss
    # Re-validate the overridden values (ranges, types) the same way as the file's.
    config = parse_slim_config(config.model_dump(), config_path or "the command-line options")

    checkpoint = load_checkpoint(model_path)
    data = load_slim_data(checkpoint, data_dir if data_dir is not None else config.data)
    out = Path(out_dir)
    if sweep_values is not None:
        from edge_deploy.slim.sweep import measure_on_emulator, run_sweep

        if len(methods) != 1:
            raise EdgeDeployError("--sweep varies one method", hint="give a single --method with --sweep")
        try:
            values = [float(v) for v in _split_list((sweep_values,))]
        except ValueError:
            raise EdgeDeployError(f"--sweep {sweep_values!r} is not a comma-separated list of numbers",
                                  hint="for example --sweep 0.3,0.5,0.7") from None
        measure = measure_on_emulator(measure_board) if measure_board else None
        points = run_sweep(checkpoint, methods[0], values, config, data, out, config.max_accuracy_loss,
                           measure_point=measure, log=click.echo)
        click.echo(f"wrote {out / 'sweep.json'} and {out / 'sweep.png'} ({len(points)} points)")
        return
    if measure_board:
        raise EdgeDeployError("--measure-on goes with --sweep", hint="build one checkpoint with 'edge-deploy build DIR/model.pt'")
    slimmed, report = run_slim(checkpoint, methods, config, data, int8=int8)
    save_checkpoint(out / "model.pt", slimmed)
    atomic_write_json(out / "slim.json", report)
    click.echo(f"{model_path} -> {out / 'model.pt'} ({' then '.join(methods)})")
    click.echo(f"  params    {report['params_before']:>10,} -> {report['params_after']:>10,}"
               f"  ({report['params_before'] / max(1, report['params_after']):.2f}x fewer)")
    click.echo(f"  MACs      {report['macs_before']:>10,} -> {report['macs_after']:>10,}"
               f"  ({report['macs_before'] / max(1, report['macs_after']):.2f}x fewer)")
    click.echo(f"  accuracy  {report['accuracy_before']:>9.2f} % -> {report['accuracy_after']:>8.2f} %  (test split)")
    if int8:
        click.echo(f"  int8      {report['int8_accuracy_before']:>9.2f} % -> {report['int8_accuracy_after']:>8.2f} %")
