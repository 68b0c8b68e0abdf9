"""``edge-deploy evaluate MODEL``: accuracy of a checkpoint (or ensemble) under noise and load."""

from __future__ import annotations

import click


@click.command("evaluate")
@click.argument("model_paths", metavar="MODEL...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--data", "data_dir", type=click.Path(), help="Data folder (default: where the model was trained; 'bundled' = the excerpt).")
@click.option("--snr", default="-4,-2,0,2,4,6,8,10", show_default=True, help="Test SNRs in dB, comma-separated ('' for none).")
@click.option("--load-hp", help="Motor loads to test on, e.g. 2 (default: the training loads).")
@click.option("--split", type=click.Choice(["test", "val", "all"]), help="Windows to use (default: test, or all for unseen loads).")
@click.option("--noise-seed", type=int, default=0, show_default=True, help="Seed of the test noise.")
@click.option("--adapt-bn", is_flag=True,
              help="AdaBN: first re-estimate the BatchNorm statistics on the unlabeled training split of --load-hp "
              "(learned weights kept), then score its test split.")
@click.option("--save-adapted", "save_adapted", type=click.Path(dir_okay=False),
              help="With --adapt-bn: write the adapted checkpoint here (a model.pt for slim, quantize, build).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Also write the metrics to this JSON file.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def command(model_paths, data_dir, snr, load_hp, split, noise_seed, adapt_bn, save_adapted, out_path, as_json) -> None:
    """Evaluate MODEL (a model.pt) on clean and noisy test windows; print accuracy per SNR.

    Several MODEL files vote together as one ensemble (majority vote over all their members).
    With --adapt-bn the model is first adapted to the load it is tested at (AdaBN), from that
    load's unlabeled training windows; --save-adapted keeps the adapted model.
    """
    import json

    from edge_deploy.cli.train_cmd import parse_int_list
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.fsutil import atomic_write_json
    from edge_deploy.train.checkpoint import load_checkpoint, merge_ensemble, save_checkpoint
    from edge_deploy.train.evaluate import TRAINING_DATA, adapt_for_evaluation, evaluate_checkpoint

    try:
        snrs = [float(part) for part in snr.split(",") if part.strip()]
    except ValueError:
        raise EdgeDeployError(f"--snr {snr!r} is not a comma-separated list of numbers", hint="for example --snr -4,0,4") from None
    if save_adapted and not adapt_bn:
        raise EdgeDeployError("--save-adapted needs --adapt-bn", hint="add --adapt-bn --load-hp N")
    checkpoint = merge_ensemble([load_checkpoint(p) for p in model_paths], list(model_paths))
    data = TRAINING_DATA if data_dir is None else (None if data_dir == "bundled" else data_dir)
    loads = parse_int_list(load_hp, "--load-hp") if load_hp is not None else None
    if adapt_bn:
        checkpoint = adapt_for_evaluation(checkpoint, data=data, load_hp=loads, split=split)
    metrics = evaluate_checkpoint(checkpoint, data=data, load_hp=loads, split=split, snr_db=snrs, noise_seed=noise_seed)
    if save_adapted:
        save_checkpoint(save_adapted, checkpoint)
    if out_path:
        atomic_write_json(out_path, metrics)
    if as_json:
        click.echo(json.dumps(metrics, indent=2, sort_keys=True))
        return
    images = metrics.get("kind") == "images"
    click.echo(
        f"{', '.join(model_paths)}: {len(checkpoint.members)} member(s), {metrics['data']},"
        + ("" if images else f" load {metrics['load_hp']} HP,")
        + f" split {metrics['split']}, {metrics['n_windows']} {'images' if images else 'windows'}"
    )
    adapted = metrics.get("adapted_bn")
    if adapted:
        click.echo(f"  BatchNorm adapted (AdaBN) to load {adapted['load_hp']} HP on {adapted['n_windows']} unlabeled "
                   f"{adapted['split']} windows" + (f"; saved {save_adapted}" if save_adapted else ""))
    click.echo(f"  clean   {metrics['accuracy'] * 100:6.2f} %")
    for key, acc in metrics["per_snr"].items():
        click.echo(f"  {key:>3} dB  {acc * 100:6.2f} %")
    for name, acc in metrics["per_class"].items():
        if acc is not None and acc < 1.0:
            click.echo(f"  class {name}: {acc * 100:.1f} %")
