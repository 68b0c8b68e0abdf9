"""The checkpoint (`model.pt`): a plain dict that rebuilds the model with no other file.

Layout (docs/architecture.md, "Checkpoint")::

    {"format": "edge-deploy/checkpoint", "version": 1,
     "arch": {"name": "ticnn", "params": {...}}, "state_dicts": [sd, ...],
     "input": {"shape": [1, 2048], "sample_rate_hz": 12000},
     "normalization": {"kind": "zscore-per-window"}, "classes": [...],
     "data": {...}, "config": {...}, "metrics": {...}}

``input.shape`` is one sample in PyTorch layout without the batch dimension: ``[C, L]`` for a
signal window, ``[C, H, W]`` for an image. Checkpoints written before N-D inputs hold
``{"channels": C, "length": L}`` instead; :func:`input_spec` converts them (the only place that
knows the old form), so they load unchanged.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file
from edge_deploy.models import build_model

CHECKPOINT_FORMAT = "edge-deploy/checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """A loaded (or about to be saved) checkpoint.

    ``members`` are the ensemble's models (one for a single model), in eval mode after loading;
    ``arch`` is ``{"name": ..., "params": {...}}`` for ``build_model``; the other fields are the
    plain values of the file (``data`` holds the ``load_windows`` keyword arguments used).
    """

    arch: dict[str, Any]
    members: list[nn.Module]
    input: dict[str, Any]
    classes: list[str]
    normalization: dict[str, Any] = field(default_factory=lambda: {"kind": "zscore-per-window"})
    data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.input = input_spec(self.input)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input sample's shape without the batch dimension, PyTorch layout: ``(C, L)`` or ``(C, H, W)``."""
        return tuple(int(d) for d in self.input["shape"])

    @property
    def model(self) -> nn.Module:
        """The first (for a single model, the only) member."""
        return self.members[0]

    @property
    def state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """Each member's state dict, detached copies on the CPU."""
        return [{k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for m in self.members]

    def to_dict(self) -> dict[str, Any]:
        """Return the checkpoint as the plain dict stored in ``model.pt``."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "arch": copy.deepcopy(self.arch),
            "state_dicts": self.state_dicts,
            "input": dict(self.input),
            "normalization": dict(self.normalization),
            "classes": list(self.classes),
            "data": copy.deepcopy(self.data),
            "config": copy.deepcopy(self.config),
            "metrics": copy.deepcopy(self.metrics),
        }


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` (a ``torch.save`` of a plain dict), atomically; return the path."""
    path = Path(path)
    with atomic_output_file(path) as tmp:
        torch.save(checkpoint.to_dict(), tmp)
    return path


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and 2 <= len(value) <= 4 and all(_positive_int(d) for d in value)


def input_spec(raw: dict[str, Any], source: str = "checkpoint") -> dict[str, Any]:
    """Return a checkpoint's ``input`` mapping in the current form ``{"shape": [C, *spatial], ...}``.

    The form written before N-D inputs, ``{"channels": C, "length": L, ...}`` (a 1-D window), becomes
    ``{"shape": [C, L], ...}``; other keys (``sample_rate_hz``) are kept. This is the one place
    that converts it. Raises EdgeDeployError naming the field when neither form is valid.
    """
    if not isinstance(raw, dict):
        raise EdgeDeployError(f"{source}: 'input' must be a mapping {{shape, ...}}, not {type(raw).__name__}",
                              hint="re-export the checkpoint (edge-deploy train writes a valid one)")
    spec = {k: v for k, v in raw.items() if k not in ("channels", "length")}
    if "shape" in raw:
        if not _shape(raw["shape"]):
            raise EdgeDeployError(f"{source}: 'input.shape' must be 2 to 4 positive integers (C, then the "
                                  f"spatial sizes), not {raw['shape']!r:.60}",
                                  hint="re-export the checkpoint (edge-deploy train writes a valid one)")
        spec["shape"] = [int(d) for d in raw["shape"]]
        return spec
    if "channels" not in raw and "length" not in raw:
        raise EdgeDeployError(f"{source} lacks 'input.shape' (the channels, then the spatial sizes)",
                              hint="re-export the checkpoint")
    for key in ("channels", "length"):  # the 1-D form of checkpoints written before N-D inputs
        if key not in raw:
            raise EdgeDeployError(f"{source} lacks 'input.{key}' (a positive integer), or 'input.shape'",
                                  hint="re-export the checkpoint")
        if not _positive_int(raw[key]):
            raise EdgeDeployError(f"{source}: 'input.{key}' must be a positive integer, not {raw[key]!r:.60}",
                                  hint="re-export the checkpoint (edge-deploy train writes a valid one)")
    spec["shape"] = [int(raw["channels"]), int(raw["length"])]
    return spec


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(item, str) for item in value)


def _state_dict_list(value: Any) -> bool:
    return (isinstance(value, list) and len(value) > 0
            and all(isinstance(state, dict) and all(isinstance(k, str) for k in state) for state in value))


_MISSING = object()

# The fields a checkpoint must hold, by path, with what each must be. Optional fields (None: may be
# absent) are checked when present.
_SCHEMA: tuple[tuple[tuple[str, ...], bool, Any, str], ...] = (
    (("arch",), True, lambda v: isinstance(v, dict), "a mapping {name, params}"),
    (("arch", "name"), True, lambda v: isinstance(v, str) and v != "", "an architecture name (text)"),
    (("arch", "params"), False, lambda v: isinstance(v, dict), "a mapping of build_model parameters"),
    (("state_dicts",), True, _state_dict_list, "a non-empty list of state dicts (one per member)"),
    (("input",), True, lambda v: isinstance(v, dict), "a mapping {shape, ...}"),
    (("input", "sample_rate_hz"), False, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
     "a positive number"),
    (("classes",), True, _text_list, "a non-empty list of class names (text)"),
    (("normalization",), False, lambda v: isinstance(v, dict) and isinstance(v.get("kind"), str),
     "a mapping with a 'kind'"),
    (("data",), False, lambda v: isinstance(v, dict), "a mapping"),
    (("config",), False, lambda v: isinstance(v, dict), "a mapping"),
    (("metrics",), False, lambda v: isinstance(v, dict), "a mapping"),
)


def check_checkpoint_schema(raw: dict[str, Any], source: str = "checkpoint") -> None:
    """Check the fields of a checkpoint dict (format and version already checked) against the
    layout in docs/architecture.md (``input`` in either form :func:`input_spec` reads). Raises
    EdgeDeployError naming the first field that is missing or of the wrong kind."""
    for path, required, valid, expected in _SCHEMA:
        value: Any = raw
        for key in path:
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        name = ".".join(path)
        if value is _MISSING:
            if required:
                raise EdgeDeployError(f"{source} lacks '{name}' ({expected})", hint="re-export the checkpoint")
            continue
        if not valid(value):
            shown = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
            raise EdgeDeployError(f"{source}: '{name}' must be {expected}, not {shown[:60]}",
                                  hint="re-export the checkpoint (edge-deploy train writes a valid one)")
        if path == ("input",):
            input_spec(value, source)


def checkpoint_from_dict(raw: dict[str, Any], source: str = "checkpoint") -> Checkpoint:
    """Rebuild a Checkpoint (members in eval mode) from the plain dict layout.

    Raises EdgeDeployError if the dict is not an edge-deploy checkpoint, a field is missing or of
    the wrong kind (:func:`check_checkpoint_schema`), or its weights do not fit its architecture.
    """
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise EdgeDeployError(f"{source} is not an edge-deploy checkpoint", hint="pass a model.pt written by 'edge-deploy train'")
    if raw.get("version") != CHECKPOINT_VERSION:
        raise EdgeDeployError(
            f"{source} has checkpoint version {raw.get('version')}, this edge-deploy reads {CHECKPOINT_VERSION}",
            hint="retrain the model or use the matching edge-deploy version",
        )
    check_checkpoint_schema(raw, source)
    members = []
    name, params = raw["arch"]["name"], raw["arch"].get("params", {})
    for index, state in enumerate(raw["state_dicts"]):
        try:
            model = build_model(name, **params)
        except (TypeError, ValueError, EdgeDeployError) as exc:
            raise EdgeDeployError(f"{source}: architecture {name!r} cannot be built from its params: {exc}",
                                  hint="the arch params must be those build_model takes for that architecture") from exc
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise EdgeDeployError(
                f"{source}: member {index} weights do not fit architecture {name!r}: {exc}",
                hint="the arch params must describe the stored weights (after pruning, save the new widths)",
            ) from exc
        members.append(model.eval())
    return Checkpoint(
        arch=raw["arch"],
        members=members,
        input=input_spec(raw["input"], source),
        classes=list(raw["classes"]),
        normalization=raw.get("normalization", {"kind": "zscore-per-window"}),
        data=raw.get("data", {}),
        config=raw.get("config", {}),
        metrics=raw.get("metrics", {}),
    )


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load ``model.pt`` from ``path``; return a Checkpoint whose members are in eval mode.

    Raises EdgeDeployError if the file is missing, unreadable or not an edge-deploy checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"checkpoint {path} does not exist", hint="train one with 'edge-deploy train CONFIG --out DIR'")
    try:
        # weights_only: a checkpoint is plain data, so never unpickle arbitrary objects.
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise EdgeDeployError(f"{path} is not a readable checkpoint ({exc})", hint="pass a model.pt written by 'edge-deploy train'") from exc
    return checkpoint_from_dict(raw, str(path))


def merge_ensemble(checkpoints: list[Checkpoint], sources: list[str] | None = None) -> Checkpoint:
    """Return one Checkpoint whose members are all the members of ``checkpoints``, in order.

    The first checkpoint's fields (data, config, ...) are kept. Raises EdgeDeployError if the
    checkpoints differ in classes, input or normalization, as their votes would not be comparable.
    """
    if not checkpoints:
        raise ValueError("merge_ensemble needs at least one checkpoint")
    sources = sources or [f"checkpoint {i + 1}" for i in range(len(checkpoints))]
    first = checkpoints[0]
    for other, source in zip(checkpoints[1:], sources[1:]):
        for name in ("classes", "input", "normalization"):
            if getattr(other, name) != getattr(first, name):
                raise EdgeDeployError(
                    f"{source} has different {name} than {sources[0]}: they cannot vote together",
                    hint="ensemble only models trained on the same classes and input",
                )
    merged = copy.copy(first)
    merged.members = [m for c in checkpoints for m in c.members]
    return merged
