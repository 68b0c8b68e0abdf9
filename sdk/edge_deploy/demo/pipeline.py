"""The pipeline file the demo runs: the bundled default, or the user's, with ``--epochs`` applied.

The default is ``examples/pipeline_ticnn.yaml``: in a checkout it is read from there, and a wheel
carries the same file as ``edge_deploy/_data/examples/pipeline_ticnn.yaml`` (pyproject's
force-include), so there is one copy to edit. The demo writes the pipeline it actually runs into
its output folder with every section inline and every path resolved, so that file alone rebuilds
the same model with ``edge-deploy build``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from edge_deploy.errors import EdgeDeployError
from edge_deploy.paths import package_data_dir

DEFAULT_PIPELINE_NAME = "pipeline_ticnn.yaml"


def default_pipeline_path() -> Path:
    """The bundled default pipeline (``examples/pipeline_ticnn.yaml``), in a wheel or a checkout.

    Raises EdgeDeployError when the installation carries neither.
    """
    candidates = [package_data_dir() / "_data" / "examples" / DEFAULT_PIPELINE_NAME,
                  package_data_dir().parent.parent / "examples" / DEFAULT_PIPELINE_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise EdgeDeployError(
        f"the edge-deploy installation has no default pipeline (looked in {', '.join(map(str, candidates))})",
        hint="pass a pipeline file (edge-deploy demo PIPELINE.yaml --out DIR), or reinstall with 'pip install .'",
    )


def _resolve(base: Path, value: str | None) -> str | None:
    """A path from a pipeline file, relative to the file's folder (None and "bundled" as they are)."""
    if value is None or value == "bundled" or Path(value).is_absolute():
        return value
    return str((base / os.path.expanduser(value)).resolve())


def _train_section(train: str | dict[str, Any], base: Path) -> dict[str, Any]:
    from edge_deploy.train.config import load_train_config, parse_train_config

    if isinstance(train, str):
        config = load_train_config(base / train)
    else:
        config = parse_train_config(train, "pipeline 'train' section")
        config.data.path = _resolve(base, config.data.path)
    return config.model_dump(mode="json")


def _slim_section(step, base: Path) -> dict[str, Any]:
    from edge_deploy.slim.config import METHODS, load_slim_config, parse_slim_config

    if isinstance(step.config, str):
        config = load_slim_config(base / step.config)
    else:
        config = parse_slim_config(step.config, "pipeline 'slim.config' section")
        config.data = _resolve(base, config.data)
    settings = config.model_dump(mode="json")
    # Only the sections of the methods that run, so the file says what the run did.
    for method in METHODS:
        if method not in step.methods:
            settings.pop(method)
    return {"methods": list(step.methods), "config": settings, "data": _resolve(base, step.data)}


def _cap_epochs(section: dict[str, Any], keys: tuple[str, ...], epochs: int) -> None:
    for key in keys:
        section[key] = min(section[key], epochs)


def demo_pipeline(path: str | os.PathLike, *, epochs: int | None = None) -> dict[str, Any]:
    """The pipeline at ``path`` as one self-contained mapping (the pipeline YAML format, every
    section inline, paths absolute), with ``epochs`` (when given) as the training epochs and as
    the cap of every slimming fine-tuning phase. Raises EdgeDeployError on a bad file or
    ``epochs`` below 1."""
    from edge_deploy.build.pipeline import load_pipeline

    if epochs is not None and epochs < 1:
        raise EdgeDeployError(f"--epochs {epochs} is not a number of epochs", hint="pass --epochs 1 or more")
    path = Path(path)
    base = path.parent
    pipeline = load_pipeline(path)
    raw: dict[str, Any] = {"train": _train_section(pipeline.train, base)}
    if pipeline.slim is not None:
        raw["slim"] = _slim_section(pipeline.slim, base)
    raw["quantize"] = {**pipeline.quantize.model_dump(mode="json"), "calib": _resolve(base, pipeline.quantize.calib)}
    if epochs is not None:
        raw["train"]["training"]["epochs"] = epochs
        if "slim" in raw:
            config = raw["slim"]["config"]
            if "slimming" in config:
                _cap_epochs(config["slimming"], ("sparsity_epochs", "finetune_epochs"), epochs)
            if "scalpel" in config:
                _cap_epochs(config["scalpel"], ("retrain_epochs",), epochs)
    return raw


def pipeline_yaml(raw: dict[str, Any], *, source: str, epochs: int | None) -> str:
    """The text of the pipeline file the demo writes: a header naming where it came from
    (``source``, a file name), then ``raw`` as YAML (section order kept)."""
    override = f", --epochs {epochs}" if epochs is not None else ""
    header = (f"# The pipeline edge-deploy demo ran (from {source}{override}), every section inline.\n"
              "# The same model again: edge-deploy build THIS_FILE --board BOARD --out DIR\n")
    return header + yaml.safe_dump(raw, sort_keys=False, default_flow_style=None, width=100)
