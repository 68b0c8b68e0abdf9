"""The ``edge-deploy slim`` config: a YAML file validated by pydantic (unknown keys are errors).

One section per method (``slimming``, ``scalpel``, ``activation``), each holding that method's
settings, plus ``max_accuracy_loss`` (points on the validation split: a result that loses more
stops with an error instead of being written) and ``data`` (fine-tuning windows, default: the
checkpoint's own). See ``examples/slim_ticnn.yaml`` and docs/slimming.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.activation import DEFAULT_RATES
from edge_deploy.slim.scalpel import ScalpelSettings
from edge_deploy.slim.slimming import SlimmingSettings

METHODS = ("slimming", "scalpel", "activation")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlimmingSection(_Strict):
    """Network Slimming (see :class:`edge_deploy.slim.slimming.SlimmingSettings`)."""

    ratio: float = Field(0.5, ge=0.0, lt=1.0)
    l1_lambda: float = Field(1e-4, ge=0.0)
    passes: int = Field(1, ge=1)
    sparsity_epochs: float = Field(2.0, ge=0.0)
    finetune_epochs: float = Field(2.0, ge=0.0)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    min_channels: int = Field(1, ge=1)
    channel_multiple: int = Field(4, ge=1)
    seed: int = 0

    def settings(self, noise_snr_db: list[float] | None = None) -> SlimmingSettings:
        """The equivalent SlimmingSettings, fine-tuning with ``noise_snr_db`` augmentation."""
        return SlimmingSettings(**self.model_dump(), noise_snr_db=noise_snr_db)


class ScalpelSection(_Strict):
    """Scalpel (see :class:`edge_deploy.slim.scalpel.ScalpelSettings`)."""

    group_size: int = Field(4, ge=1)
    sparsity: float | dict[str, float] | Literal["sensitivity"] = 0.75
    max_layer_loss: float = Field(0.5, ge=0.0)
    skip: list[str] = Field(default_factory=list)
    retrain_epochs: float = Field(2.0, ge=0.0)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0.0)
    seed: int = 0

    def settings(self, noise_snr_db: list[float] | None = None) -> ScalpelSettings:
        """The equivalent ScalpelSettings, retraining with ``noise_snr_db`` augmentation."""
        return ScalpelSettings(**self.model_dump(), noise_snr_db=noise_snr_db)


class ActivationSection(_Strict):
    """Activation pruning: the accuracy-loss ``budget`` (points), the winner ``mode`` and the
    swept winner ``rates``."""

    budget: float = Field(0.5, ge=0.0)
    mode: Literal["threshold", "topk"] = "threshold"
    rates: list[float] = Field(default_factory=lambda: list(DEFAULT_RATES))
    calibration_windows: int = Field(512, ge=1)


class SlimConfig(_Strict):
    """The whole slim config."""

    slimming: SlimmingSection = Field(default_factory=SlimmingSection)
    scalpel: ScalpelSection = Field(default_factory=ScalpelSection)
    activation: ActivationSection = Field(default_factory=ActivationSection)
    max_accuracy_loss: float | None = Field(None, ge=0.0)
    data: str | None = None
    # White noise on fine-tuning windows: "checkpoint" = what the model was trained with.
    noise_augmentation_snr_db: Literal["checkpoint"] | tuple[float, float] | None = "checkpoint"

    def noise_snr_db(self, checkpoint_config: dict[str, Any]) -> list[float] | None:
        """The (low, high) dB of fine-tuning noise, resolving "checkpoint" from its training config."""
        value = self.noise_augmentation_snr_db
        if value == "checkpoint":
            value = (checkpoint_config.get("tricks") or {}).get("noise_augmentation_snr_db")
        return None if value is None else [float(value[0]), float(value[1])]


def parse_slim_config(raw: Any, source: str = "config") -> SlimConfig:
    """Validate a config mapping (None = all defaults); return a SlimConfig.

    Raises EdgeDeployError naming every bad key.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise EdgeDeployError(f"{source}: the slim config must be a mapping of sections",
                              hint="see examples/slim_ticnn.yaml")
    try:
        return SlimConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{where}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
        raise EdgeDeployError(f"{source}: invalid slim config:\n  " + "\n  ".join(lines),
                              hint="fix the keys named above (docs/slimming.md lists every key)") from None


def load_slim_config(path: str | os.PathLike | None) -> SlimConfig:
    """Read a YAML slim config (None = defaults); a relative ``data`` is taken from the file's
    folder. Raises EdgeDeployError if the file is missing, not YAML, or has bad keys."""
    if path is None:
        return SlimConfig()
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"slim config {path} does not exist", hint="see examples/slim_ticnn.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EdgeDeployError(f"{path}: not valid YAML ({exc})", hint="fix the YAML syntax") from exc
    config = parse_slim_config(raw, str(path))
    if config.data is not None and config.data != "bundled" and not Path(config.data).is_absolute():
        config.data = str((path.parent / config.data).resolve())
    return config
