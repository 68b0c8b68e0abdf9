"""A pipeline YAML for ``edge-deploy build``: train, optionally slim, then quantize, then build.

    train: ticnn_cwru.yaml          # a training config file (relative to this file), or the config inline
    slim:                           # optional
      methods: [slimming, scalpel]  # in order; activation pruning last
      config: slim_ticnn.yaml       # a slim config file, or inline; null = defaults
    quantize:                       # optional
      calib: null                   # calibration data: a folder or .npy (null: the training data)
      method: minmax                # or percentile
      percentile: 99.99
      count: 256                    # calibration windows

Each stage calls the public function of its package (``train_checkpoint``, ``run_slim``,
``quantize_checkpoint``); the intermediate checkpoints and reports are kept in the build folder
under ``pipeline/``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_deploy.errors import EdgeDeployError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlimStep(_Strict):
    """Which slimming methods to run and their settings."""

    methods: list[str]
    config: str | dict[str, Any] | None = None
    data: str | None = None


class QuantizeStep(_Strict):
    """Calibration settings for the post-training quantization."""

    calib: str | None = None
    method: Literal["minmax", "percentile"] = "minmax"
    percentile: float = Field(99.99, gt=0.0, le=100.0)
    count: int = Field(256, ge=1)


class PipelineConfig(_Strict):
    """The pipeline file: ``train`` (file or inline), ``slim`` (optional), ``quantize``."""

    train: str | dict[str, Any]
    slim: SlimStep | None = None
    quantize: QuantizeStep = Field(default_factory=QuantizeStep)


def load_pipeline(path: str | os.PathLike) -> PipelineConfig:
    """Read and validate a pipeline YAML. Raises EdgeDeployError naming bad keys."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EdgeDeployError(f"{path}: cannot read the pipeline ({exc})", hint="fix the file") from None
    if not isinstance(raw, dict) or "train" not in raw:
        raise EdgeDeployError(f"{path}: a pipeline needs a 'train' section (a training config file or inline)",
                              hint="see docs/build.md, 'Pipeline YAML'")
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: "
                 f"{'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}" for err in exc.errors()]
        raise EdgeDeployError(f"{path}: invalid pipeline:\n  " + "\n  ".join(lines),
                              hint="keys: train, slim (methods, config, data), quantize (calib, method, percentile, "
                                   "count)") from None


def _relative(base: Path, value: str | None) -> str | None:
    if value is None or value == "bundled" or Path(value).is_absolute():
        return value
    return str((base / os.path.expanduser(value)).resolve())


def _train_config(pipeline: PipelineConfig, base: Path):
    from edge_deploy.train.config import load_train_config, parse_train_config

    if isinstance(pipeline.train, str):
        return load_train_config(base / pipeline.train)
    config = parse_train_config(pipeline.train, "pipeline 'train' section")
    config.data.path = _relative(base, config.data.path)
    return config


def _slim_config(step: SlimStep, base: Path):
    from edge_deploy.slim.config import load_slim_config, parse_slim_config

    if isinstance(step.config, str):
        return load_slim_config(base / step.config)
    config = parse_slim_config(step.config, "pipeline 'slim.config' section")
    config.data = _relative(base, config.data)
    return config


def _checkpoint_bytes(checkpoint) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(checkpoint.to_dict(), buffer)
    return buffer.getvalue()


def run_pipeline(path: str | os.PathLike, *, progress: bool = False):
    """Run the pipeline file at ``path``; return the ``ModelSource`` to build, whose
    ``extra_files`` hold the intermediate checkpoints and reports. Raises EdgeDeployError on a
    bad file or a failing stage."""
    from edge_deploy.build.model_source import ModelSource
    from edge_deploy.quantize.pipeline import quantize_checkpoint
    from edge_deploy.tflite import export_tflite, import_tflite
    from edge_deploy.build.act_thresholds import carry_thresholds
    from edge_deploy.train.run import train_checkpoint

    path = Path(path)
    base = path.parent
    pipeline = load_pipeline(path)
    checkpoint = train_checkpoint(_train_config(pipeline, base), progress=progress)
    extra = {"pipeline/train/model.pt": _checkpoint_bytes(checkpoint),
             "pipeline/train/metrics.json": _json(checkpoint.metrics)}
    details: dict[str, Any] = {"kind": "pipeline", "accuracy": checkpoint.metrics.get("accuracy")}
    if pipeline.slim is not None:
        from edge_deploy.slim.pipeline import load_slim_data, run_slim

        config = _slim_config(pipeline.slim, base)
        data = load_slim_data(checkpoint, _relative(base, pipeline.slim.data) or config.data)
        checkpoint, report = run_slim(checkpoint, pipeline.slim.methods, config, data)
        extra["pipeline/slim/model.pt"] = _checkpoint_bytes(checkpoint)
        extra["pipeline/slim/slim.json"] = _json(report)
        details["slim_methods"] = list(pipeline.slim.methods)
        details["slim_accuracy"] = report.get("accuracy_after")
    step = pipeline.quantize
    quantized = quantize_checkpoint(checkpoint, _relative(base, step.calib), method=step.method,
                                    percentile=step.percentile, count=step.count)
    graph = quantized.graph
    graph.name = path.stem
    tflite = export_tflite(graph)
    extra["pipeline/quantize.json"] = _json(quantized.report)
    reloaded = carry_thresholds(graph, import_tflite(tflite, name=graph.name, source=str(path)))
    details["calibration_windows"] = quantized.report.get("calibration_windows")
    return ModelSource(graph=reloaded, tflite=tflite, kind="pipeline", path=path, details=details,
                       extra_files=extra)


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
