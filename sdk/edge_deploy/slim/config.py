"""The ``edge-deploy slim`` config: a YAML file validated by pydantic (unknown keys are errors).

One section per registered method (``slimming``, ``scalpel``, ``activation``: each method's own
model, :mod:`edge_deploy.slim.registry`), ``validation`` (how the validation windows are cut),
``max_accuracy_loss`` (points on the validation split, default 0.5: no result losing more is
ever written; a method whose knob is not given searches it for the largest saving within it) and
``data`` (fine-tuning windows, default: the checkpoint's own). See ``examples/slim_ticnn.yaml``
and docs/slimming.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.dataset import ValidationSection
from edge_deploy.slim.registry import registered_methods

DEFAULT_MAX_LOSS = 0.5  # validation accuracy points


class SlimConfigBase(BaseModel):
    """The keys every slim config has; :func:`slim_config_class` adds one section per method."""

    model_config = ConfigDict(extra="forbid")

    validation: ValidationSection = Field(default_factory=ValidationSection)
    max_accuracy_loss: float = Field(DEFAULT_MAX_LOSS, ge=0.0)
    data: str | None = None
    # White noise on fine-tuning windows: "checkpoint" = what the model was trained with.
    noise_augmentation_snr_db: Literal["checkpoint"] | tuple[float, float] | None = "checkpoint"
    # Time-resampling factors on fine-tuning windows (training's tricks.speed_augmentation).
    speed_augmentation: Literal["checkpoint"] | tuple[float, float] | None = "checkpoint"

    def _resolve(self, key: str, checkpoint_config: dict[str, Any]) -> list[float] | None:
        value = getattr(self, key)
        if value == "checkpoint":
            value = (checkpoint_config.get("tricks") or {}).get(key)
        return None if value is None else [float(value[0]), float(value[1])]

    def noise_snr_db(self, checkpoint_config: dict[str, Any]) -> list[float] | None:
        """The (low, high) dB of fine-tuning noise, resolving "checkpoint" from its training config."""
        return self._resolve("noise_augmentation_snr_db", checkpoint_config)

    def augmentation(self, checkpoint_config: dict[str, Any]) -> dict[str, list[float] | None]:
        """What every fine-tuning step adds to its windows, "checkpoint" resolved from the
        training config: ``noise_snr_db`` and ``speed_augmentation`` ranges (None = off)."""
        return {"noise_snr_db": self.noise_snr_db(checkpoint_config),
                "speed_augmentation": self._resolve("speed_augmentation", checkpoint_config)}

    def section(self, method: str) -> BaseModel:
        """The config section of ``method``."""
        return getattr(self, method)


_CLASSES: dict[tuple[str, ...], type[SlimConfigBase]] = {}


def slim_config_class() -> type[SlimConfigBase]:
    """Return the config model with a section for every registered method (rebuilt when a
    method is registered)."""
    methods = registered_methods()
    key = tuple(methods)
    if key not in _CLASSES:
        sections = {name: (m.section, Field(default_factory=m.section)) for name, m in methods.items()}
        _CLASSES[key] = create_model("SlimConfig", __base__=SlimConfigBase, **sections)
    return _CLASSES[key]


SlimConfig = slim_config_class()
METHODS = tuple(registered_methods())


def parse_slim_config(raw: Any, source: str = "config") -> SlimConfigBase:
    """Validate a config mapping (None = all defaults); return a SlimConfig.

    Raises EdgeDeployError naming every bad key.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise EdgeDeployError(f"{source}: the slim config must be a mapping of sections",
                              hint="see examples/slim_ticnn.yaml")
    try:
        return slim_config_class().model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{where}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
        raise EdgeDeployError(f"{source}: invalid slim config:\n  " + "\n  ".join(lines),
                              hint="fix the keys named above (docs/slimming.md lists every key)") from None


def load_slim_config(path: str | os.PathLike | None) -> SlimConfigBase:
    """Read a YAML slim config (None = defaults); a relative ``data`` is taken from the file's
    folder. Raises EdgeDeployError if the file is missing, not YAML, or has bad keys."""
    if path is None:
        return slim_config_class()()
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
