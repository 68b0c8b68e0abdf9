"""``edge-deploy train CONFIG.yaml --out DIR``: train a model (or ensemble), write model.pt and metrics."""

from __future__ import annotations

import click

from edge_deploy.errors import EdgeDeployError


def parse_int_list(text: str, option: str) -> list[int]:
    """Parse ``"0,1"`` into ``[0, 1]``; raise EdgeDeployError naming ``option`` otherwise."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise EdgeDeployError(f"{option} {text!r} is not a comma-separated list of integers", hint=f"for example {option} 0,1") from None


@click.command("train")
@click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for model.pt, metrics.json and plots.")
@click.option("--data", "data_dir", type=click.Path(),
              help="Data folder (overrides data.path; default: the config's): CWRU records or DIR/<class>/<record>.npy "
                   "for windows, DIR/<class>/*.png for images.")
@click.option("--load-hp", help="Motor loads to train on, e.g. 0 or 0,1 (overrides data.load_hp; windows only).")
@click.option("--epochs", type=int, help="Maximum epochs (overrides training.epochs).")
@click.option("--seed", type=int, help="Seed of the first member (overrides training.seed).")
@click.option("--ensemble", type=int, help="Number of ensemble members (overrides tricks.ensemble).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(config_path, out_dir, data_dir, load_hp, epochs, seed, ensemble, quiet) -> None:
    """Train the model described by CONFIG.yaml and write DIR/model.pt and DIR/metrics.json."""
    from pathlib import Path

    from edge_deploy.train.config import load_train_config, parse_train_config
    from edge_deploy.train.run import train_checkpoint, write_training_outputs

    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise EdgeDeployError(f"--out {out_dir} is a file, not a directory", hint="pass a directory for the outputs")
    config = load_train_config(config_path)
    raw = config.model_dump(mode="json")
    if data_dir is not None:
        raw["data"]["path"] = str(Path(data_dir).expanduser().resolve())
    if load_hp is not None:
        if raw["data"].get("kind", "windows") != "windows":
            raise EdgeDeployError(f"--load-hp is a motor load of vibration data; {config_path} trains on "
                                  f"{raw['data']['kind']}", hint="leave --load-hp out")
        raw["data"]["load_hp"] = parse_int_list(load_hp, "--load-hp")
    for section, key, value in (("training", "epochs", epochs), ("training", "seed", seed), ("tricks", "ensemble", ensemble)):
        if value is not None:
            raw[section][key] = value
    config = parse_train_config(raw, f"{config_path} with command-line overrides")
    checkpoint = train_checkpoint(config, progress=not quiet)
    paths = write_training_outputs(checkpoint, out_dir)
    metrics = checkpoint.metrics
    click.echo(
        f"test accuracy {metrics['accuracy'] * 100:.2f} % on {metrics['n_windows']} "
        f"{'images' if checkpoint.data.get('kind') == 'images' else 'windows'}"
        f" ({len(checkpoint.members)} member(s), {metrics['train_seconds']:.0f} s of training)"
    )
    if metrics["per_snr"]:
        click.echo("under noise: " + ", ".join(f"{snr} dB {acc * 100:.1f} %" for snr, acc in metrics["per_snr"].items()))
    for name, path in paths.items():
        click.echo(f"wrote {path}")
