"""The training config: a YAML file validated by pydantic; unknown or wrong keys are errors.

See ``examples/ticnn_cwru.yaml`` and docs/training.md for every key.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from edge_deploy.errors import EdgeDeployError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_fractions(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] <= 0 or value[1] <= 0 or sum(value) >= 1:
        raise ValueError("train and val fractions must be positive and sum to less than 1")
    return value


class DataConfig(_Strict):
    """Signal windows (``kind: windows``, the default): ``path`` None = the bundled CWRU excerpt."""

    kind: Literal["windows"] = "windows"
    path: str | None = None
    load_hp: list[int] = Field(default_factory=lambda: [0])
    window: int = Field(2048, gt=0)
    stride: int | None = Field(None, gt=0)
    fractions: tuple[float, float] = (0.7, 0.1)

    _fractions_leave_test_data = field_validator("fractions")(_check_fractions)

    @field_validator("load_hp")
    @classmethod
    def _some_load(cls, value: list[int]) -> list[int]:
        if not value or any(h < 0 for h in value):
            raise ValueError("give at least one load, in HP (0, 1, 2, 3)")
        return sorted(set(value))

    def spec(self, model_input: tuple[int, ...] | None = None) -> dict[str, Any]:
        """The ``load_windows`` arguments this section trains on (a checkpoint's ``data``)."""
        return {"data": self.path, "load_hp": list(self.load_hp), "window": self.window,
                "stride": self.stride if self.stride is not None else self.window // 8,
                "fractions": [float(f) for f in self.fractions]}


class ImageDataConfig(_Strict):
    """Images (``kind: images``): ``path`` None = scikit-learn's digits, else ``DIR/<class>/*.png``;
    ``size`` (H, W) and ``channels`` None = the model's input; ``split_seed`` shuffles each class
    before the split."""

    kind: Literal["images"]
    path: str | None = None
    size: tuple[int, int] | None = None
    channels: Literal[1, 3] | None = None
    fractions: tuple[float, float] = (0.7, 0.1)
    split_seed: int = 0

    _fractions_leave_test_data = field_validator("fractions")(_check_fractions)

    @field_validator("size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and min(value) < 1:
            raise ValueError("the image size [H, W] must be positive")
        return value

    def spec(self, model_input: tuple[int, ...] | None = None) -> dict[str, Any]:
        """The ``load_images`` arguments this section trains on (a checkpoint's ``data``); the
        size and channels not given come from ``model_input`` (C, H, W), the model's default input."""
        channels, size = self.channels, self.size
        if (channels is None or size is None) and (model_input is None or len(model_input) != 3):
            raise EdgeDeployError(f"data.kind images: the model's input {model_input} is not (channels, height, width)",
                                  hint="train an image model (antnet, dscnn, mobilenet_v1), or set data.size and "
                                       "data.channels")
        return {"kind": "images", "data": self.path,
                "size": [int(v) for v in (size if size is not None else model_input[1:])],
                "channels": int(channels if channels is not None else model_input[0]),
                "fractions": [float(f) for f in self.fractions], "split_seed": int(self.split_seed)}


def _data_kind(value: Any) -> str:
    # Configs written before images have no kind: they are windows.
    kind = value.get("kind", "windows") if isinstance(value, dict) else getattr(value, "kind", "windows")
    return kind if kind in ("windows", "images") else "windows"


AnyDataConfig = Annotated[Annotated[DataConfig, Tag("windows")] | Annotated[ImageDataConfig, Tag("images")],
                          Discriminator(_data_kind)]


class ModelConfig(_Strict):
    """The architecture: a registered model name and its parameters (widths and so on)."""

    name: str = "ticnn"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _no_dropout_here(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "input_dropout" in value:
            raise ValueError("set the input dropout under tricks.input_dropout, not model.params")
        return value

    @model_validator(mode="after")
    def _params_fit_the_model(self) -> ModelConfig:
        # A typo in a parameter name would otherwise surface only when the model is built.
        unknown, valid = unknown_model_params(self.name, self.params)
        if unknown:
            raise _ModelParamsError(unknown, valid)
        return self


class _ModelParamsError(ValueError):
    """Unknown ``model.params`` keys; carries them and the valid ones for the error message."""

    def __init__(self, unknown: list[str], valid: list[str]) -> None:
        super().__init__(f"unknown model params: {', '.join(unknown)}")
        self.unknown, self.valid = unknown, valid


def unknown_model_params(name: str, params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Return (the keys of ``params`` that model ``name``'s constructor does not take, the keys it takes).

    Both are empty when the name is not registered (the registry reports that when building) or
    when the constructor takes ``**kwargs``. ``input_dropout`` is not offered: it is set under ``tricks``.
    """
    from edge_deploy.models.registry import model_builder

    builder = model_builder(name)
    if builder is None:
        return [], []
    try:
        parameters = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return [], []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return [], []
    valid = [p.name for p in parameters
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY) and p.name != "self"]
    unknown = sorted(k for k in params if k not in valid)
    return unknown, [v for v in valid if v != "input_dropout"]


def takes_input_dropout(name: str) -> bool:
    """True if model ``name``'s constructor takes ``input_dropout`` (TICNN's changing-rate dropout)."""
    from edge_deploy.models.registry import model_builder

    builder = model_builder(name)
    try:
        return builder is not None and "input_dropout" in inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False


class TricksConfig(_Strict):
    """The TICNN training interference, each switchable."""

    input_dropout: tuple[float, float] | None = (0.1, 0.9)
    batch_size: int = Field(10, gt=0)
    ensemble: int = Field(1, gt=0)
    noise_augmentation_snr_db: tuple[float, float] | None = None
    speed_augmentation: tuple[float, float] | None = None

    @field_validator("speed_augmentation")
    @classmethod
    def _speed_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0.5 <= value[0] <= value[1] <= 2.0:
            raise ValueError("the speed factor range [low, high] must satisfy 0.5 <= low <= high <= 2")
        return value

    @field_validator("input_dropout")
    @classmethod
    def _rate_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] <= value[1] < 1:
            raise ValueError("the rate range [low, high] must satisfy 0 <= low <= high < 1")
        return value


class TrainingConfig(_Strict):
    """Optimisation: epochs, learning rate, early stopping, the seed."""

    epochs: int = Field(30, gt=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    patience: int | None = Field(10, gt=0)
    early_stopping: Literal["val_loss", "val_accuracy"] = "val_loss"
    recalibrate_batchnorm: bool = True
    seed: int = 0
    threads: int | None = Field(None, gt=0)


class EvaluateConfig(_Strict):
    """What ``metrics.json`` reports after training: accuracy under each test SNR."""

    snr_db: list[float] = Field(default_factory=lambda: [-4, -2, 0, 2, 4, 6, 8, 10])
    noise_seed: int = 0


class TrainConfig(_Strict):
    """The whole training config."""

    data: AnyDataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    tricks: TricksConfig = Field(default_factory=TricksConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @model_validator(mode="after")
    def _data_fits_model(self) -> TrainConfig:
        data, params = self.data, self.model.params
        if ("input_dropout" in self.tricks.model_fields_set and self.tricks.input_dropout is not None
                and model_builder_known(self.model.name) and not takes_input_dropout(self.model.name)):
            raise ValueError(f"tricks.input_dropout: model {self.model.name!r} has no input dropout (TICNN's "
                             "changing-rate dropout): set it to null")
        if isinstance(data, DataConfig):
            length = params.get("input_length")
            if length is not None and length != data.window:
                raise ValueError(f"model.params.input_length ({length}) differs from data.window ({data.window})")
            return self
        for key, value in (("input_size", data.size), ("in_channels", data.channels)):
            if value is not None and key in params and _plain(params[key]) != _plain(value):
                raise ValueError(f"model.params.{key} ({params[key]}) differs from the data's ({_plain(value)})")
        for key in ("noise_augmentation_snr_db", "speed_augmentation"):
            if getattr(self.tricks, key) is not None:
                raise ValueError(f"tricks.{key} applies to signal windows, not images: set it to null")
        return self


def model_builder_known(name: str) -> bool:
    """True if ``name`` is a registered model (an unknown one is reported when it is built)."""
    from edge_deploy.models.registry import model_builder

    return model_builder(name) is not None


def _plain(value: Any) -> Any:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else value


def _describe(exc: ValidationError, source: str) -> EdgeDeployError:
    lines, hints = [], []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) > 1 and loc[0] == "data" and loc[1] in ("windows", "images"):
            del loc[1]  # the tag of the data kind, not a key the user wrote
        where = ".".join(str(p) for p in loc) or "(top level)"
        params_error = (err.get("ctx") or {}).get("error")
        if isinstance(params_error, _ModelParamsError):
            lines.extend(f"{where}.params.{key}: unknown key" for key in params_error.unknown)
            hints.append(f"model.params takes: {', '.join(params_error.valid)}")
            continue
        what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}: {what}")
    return EdgeDeployError(
        f"{source}: invalid config:\n  " + "\n  ".join(lines),
        hint="; ".join(hints + ["fix the keys named above (docs/training.md lists every key)"]),
    )


def parse_train_config(raw: Any, source: str = "config") -> TrainConfig:
    """Validate a config mapping; return a TrainConfig. Raises EdgeDeployError naming bad keys."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise EdgeDeployError(f"{source}: the config must be a mapping of sections", hint="see examples/ticnn_cwru.yaml")
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise _describe(exc, source) from None


def load_train_config(path: str | os.PathLike) -> TrainConfig:
    """Read and validate a YAML training config; ``data.path`` is taken relative to the file.

    Raises EdgeDeployError if the file is missing, is not YAML, or has unknown or wrong keys.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"config {path} does not exist", hint="see examples/ticnn_cwru.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EdgeDeployError(f"{path}: not valid YAML ({exc})", hint="fix the YAML syntax") from exc
    config = parse_train_config(raw, str(path))
    if config.data.path is not None:
        config.data.path = str((path.parent / os.path.expanduser(config.data.path)).resolve())
    return config
