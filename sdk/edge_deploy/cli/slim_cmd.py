"""``edge-deploy slim MODEL --method ... --out DIR``: a smaller checkpoint and ``slim.json``."""

from __future__ import annotations

import click


def _split_list(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _apply_options(config, options: dict) -> None:
    """Write the command-line overrides into ``config`` (validated again by the caller)."""
    from edge_deploy.errors import EdgeDeployError

    sparsity = options["sparsity"]
    if sparsity is not None:
        try:
            options["sparsity"] = sparsity if sparsity == "sensitivity" else float(sparsity)
        except ValueError:
            raise EdgeDeployError(f"--sparsity {sparsity!r} is neither a fraction nor 'sensitivity'",
                                  hint="for example --sparsity 0.8") from None
    targets = {"ratio": ("slimming", "ratio"), "passes": ("slimming", "passes"),
               "channel_multiple": ("slimming", "channel_multiple"), "sparsity": ("scalpel", "sparsity"),
               "group_size": ("scalpel", "group_size"), "budget": ("activation", "budget")}
    for option, (section, key) in targets.items():
        if options[option] is not None:
            setattr(config.section(section), key, options[option])
    epochs = options["epochs"]
    if epochs is not None:
        config.slimming.sparsity_epochs = config.slimming.finetune_epochs = epochs
        config.scalpel.retrain_epochs = epochs
    if options["max_loss"] is not None:
        config.max_accuracy_loss = options["max_loss"]


@click.command("slim")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--method", "-m", "methods", multiple=True, required=True,
              help="slimming, scalpel or activation; repeat (or comma-separate) to chain, e.g. -m slimming -m scalpel.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Slim config YAML (see examples/slim_ticnn.yaml).")
@click.option("--data", "data_dir", help="Fine-tuning data folder ('bundled' = the excerpt; default: the model's training data).")
@click.option("--ratio", type=float, help="Network Slimming: fraction of channels to remove (default: searched).")
@click.option("--passes", type=int, help="Network Slimming: number of prune/fine-tune passes.")
@click.option("--channel-multiple", type=click.IntRange(min=1),
              help="Network Slimming: round each layer's kept channels up to a multiple of this (default 4; 1 = exact).")
@click.option("--sparsity", help="Scalpel: fraction of weight groups to prune per layer, or 'sensitivity' (default: searched).")
@click.option("--group-size", type=int, help="Scalpel: weights per group (4 = one int8 word, 2 = SMLAD pair, 1 = unstructured).")
@click.option("--budget", type=float, help="Activation pruning: accuracy-loss budget in points (default: --max-loss).")
@click.option("--epochs", type=float, help="Epochs of every (re)training step (sparsity training, fine-tuning, retraining).")
@click.option("--max-loss", type=float,
              help="Accuracy budget: validation points the result may lose (default 0.5); nothing losing more is written.")
@click.option("--sweep", "sweep_values",
              help="Comma-separated values of the (single) method's knob (ratio, sparsity or budget): write the curve.")
@click.option("--measure-on", "measure_board", metavar="BOARD",
              help="Build every point within the budget and profile it on QEMU (e.g. mps2-an386); a search then "
                   "minimises modelled cycles.")
@click.option("--workers", type=int, help="Worker processes for the points of a search or sweep (default: one per core).")
@click.option("--ray", "ray_address", metavar="auto|ADDRESS",
              help='Run the points as Ray tasks (pip install "edge-deploy[ray]"): auto = the running cluster or a local one.')
@click.option("--int8", is_flag=True, help="Also report int8 test accuracy (post-training quantization, reference interpreter).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
def command(model_path, methods, config_path, data_dir, ratio, passes, channel_multiple, sparsity, group_size, budget,
            epochs, max_loss, sweep_values, measure_board, workers, ray_address, int8, out_dir) -> None:
    """Slim MODEL (a model.pt): write DIR/model.pt and DIR/slim.json (or, with --sweep, a curve).

    Without --ratio / --sparsity / --budget each method searches its knob for the largest saving
    within --max-loss validation points; if nothing fits it exits 1 and writes nothing.
    """
    from pathlib import Path

    import torch

    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.slim.config import load_slim_config, parse_slim_config
    from edge_deploy.slim.dataset import load_slim_data
    from edge_deploy.slim.pipeline import run_slim
    from edge_deploy.slim.registry import check_methods
    from edge_deploy.slim.runners import make_runner
    from edge_deploy.train.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    methods = [m.name for m in check_methods(_split_list(methods))]
    config = load_slim_config(config_path)
    _apply_options(config, dict(ratio=ratio, passes=passes, channel_multiple=channel_multiple, sparsity=sparsity,
                                group_size=group_size, budget=budget, epochs=epochs, max_loss=max_loss))
    # Re-validate the overridden values (ranges, types) the same way as the file's.
    config = parse_slim_config(config.model_dump(), config_path or "the command-line options")
    runner = make_runner(workers, ray_address)

    checkpoint = load_checkpoint(model_path)
    data = load_slim_data(checkpoint, data_dir if data_dir is not None else config.data, config.validation,
                          config.noise_snr_db(checkpoint.config))
    out = Path(out_dir)
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    firmware = None
    if measure_board:
        from edge_deploy.check import firmware_figures
        from edge_deploy.slim.points import FirmwareMeasure

        firmware = FirmwareMeasure(measure_board, firmware_figures)
    if sweep_values is not None:
        from edge_deploy.slim.sweep import run_sweep

        if len(methods) != 1:
            raise EdgeDeployError("--sweep varies one method", hint="give a single --method with --sweep")
        try:
            values = [float(v) for v in _split_list((sweep_values,))]
        except ValueError:
            raise EdgeDeployError(f"--sweep {sweep_values!r} is not a comma-separated list of numbers",
                                  hint="for example --sweep 0.3,0.5,0.7") from None
        sweep = run_sweep(checkpoint, methods[0], values, config, data, out, runner=runner, firmware=firmware, log=log)
        kept = sum(1 for p in sweep["points"] if p.get("within_budget"))
        click.echo(f"wrote {out / 'sweep.json'} and {out / 'sweep.png'} ({len(sweep['points'])} points, "
                   f"{kept} within {config.max_accuracy_loss} validation points kept in {out / 'points'})")
        if sweep["failed"]:
            raise EdgeDeployError(f"sweep point(s) {', '.join(f'{v:g}' for v in sweep['failed'])} failed "
                                  f"(errors in {out / 'sweep.json'})", hint="see each point's error above")
        return
    slimmed, report = run_slim(checkpoint, methods, config, data, int8=int8, runner=runner, firmware=firmware, log=log)
    save_checkpoint(out / "model.pt", slimmed)
    atomic_write_json(out / "slim.json", report)
    _print_report(model_path, out, report, int8)


def _print_report(model_path: str, out, report: dict, int8: bool) -> None:
    def ci(interval) -> str:
        return f"[{interval[0]:.2f}, {interval[1]:.2f}]"

    click.echo(f"{model_path} -> {out / 'model.pt'} ({' then '.join(report['methods'])})")
    for name, search in report["search"].items():
        click.echo(f"  {name}: searched {search['knob']}, chose {search['chosen']:g} "
                   f"(largest saving in {search['objective']} within {report['max_accuracy_loss']} validation points)")
    click.echo(f"  params      {report['params_before']:>10,} -> {report['params_after']:>10,}"
               f"  ({report['params_before'] / max(1, report['params_after']):.2f}x fewer)")
    click.echo(f"  MACs        {report['macs_before']:>10,} -> {report['macs_after']:>10,}"
               f"  ({report['macs_before'] / max(1, report['macs_after']):.2f}x fewer)")
    if "firmware_after" in report:
        click.echo(f"  cycles      {report['firmware_after']['cycles']:>10,} (modelled, QEMU)")
    click.echo(f"  validation  {report['val_accuracy_before']:>8.2f} % -> {report['val_accuracy_after']:>8.2f} %  "
               f"95 % CI {ci(report['val_accuracy_ci_after'])}, {report['n_val_windows']} windows")
    click.echo(f"  test        {report['accuracy_before']:>8.2f} % -> {report['accuracy_after']:>8.2f} %  "
               f"95 % CI {ci(report['accuracy_ci_after'])}, {report['n_test_windows']} windows")
    if int8:
        click.echo(f"  int8 test   {report['int8_accuracy_before']:>8.2f} % -> {report['int8_accuracy_after']:>8.2f} %")
    for warning in report["warnings"]:
        click.echo(f"warning: {warning}", err=True)
