"""The model registry: architectures by name, so a checkpoint can rebuild its model from a dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from edge_deploy.errors import EdgeDeployError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register a model class or factory under ``name`` for :func:`build_model`.

    Raises ValueError if the name is taken (two architectures must not share a name).
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    """Return the registered model names, sorted."""
    return sorted(_BUILDERS)


def model_builder(name: str) -> Callable[..., nn.Module] | None:
    """Return the class or factory registered under ``name``, or None if there is none."""
    return _BUILDERS.get(name)


def build_model(name: str, **params: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword ``params``; return a ``torch.nn.Module``.

    Raises EdgeDeployError for an unknown name or parameters the model does not take.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        raise EdgeDeployError(f"unknown model {name!r}", hint=f"use one of: {', '.join(list_models())}")
    try:
        return builder(**params)
    except TypeError as exc:
        raise EdgeDeployError(f"model {name!r}: {exc}", hint="check the model parameters in the config") from exc


def input_params(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """Constructor parameters of model ``name`` for one input of ``shape`` (C, then the spatial
    sizes), from its ``input_params`` classmethod; {} for a model without one (or an unknown
    name: :func:`build_model` reports that). Raises EdgeDeployError when the model cannot take
    inputs of that rank."""
    builder = _BUILDERS.get(name)
    describe = getattr(builder, "input_params", None)
    return dict(describe(tuple(int(d) for d in shape))) if describe is not None else {}
