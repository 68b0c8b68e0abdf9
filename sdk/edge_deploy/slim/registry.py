"""Slimming methods behind one interface, registered by name.

A method is a :class:`SlimMethod`: its config section (a pydantic model, the YAML section of the
same name), the knob a sweep or a search varies (``ratio``, ``sparsity``, ``budget``), the grid
the search tries when the knob is not given, and ``run``, which slims a list of ensemble members.
``edge-deploy slim -m NAME`` looks the name up here; an unknown name is an error. Adding a method
means adding a module that calls :func:`register_method`, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from torch import nn

from edge_deploy.errors import EdgeDeployError

if TYPE_CHECKING:
    from edge_deploy.slim.dataset import SlimData


@dataclass
class MethodOutcome:
    """What one method run returns: the new members, the details recorded in the checkpoint's
    history and ``slim.json``, and an activation-pruning plan (plain data) when it makes one."""

    members: list[nn.Module]
    details: dict[str, Any] = field(default_factory=dict)
    activation: dict[str, Any] | None = None


# run(members, data, section, augmentation) -> MethodOutcome; augmentation holds the fine-tuning
# ranges "noise_snr_db" and "speed_augmentation" (None = off), as SlimConfig.augmentation gives them.
MethodRun = Callable[[Sequence[nn.Module], "SlimData", Any, "dict[str, Any]"], MethodOutcome]


@dataclass(frozen=True)
class SlimMethod:
    """One slimming method.

    ``section`` is its config model (every field with a default; unknown keys are errors);
    ``knob`` the field a sweep varies and a search chooses; ``grid`` the knob values the search
    tries, gentlest first, when the knob is None. An empty ``grid`` means the knob is itself an
    accuracy budget the method meets on its own (activation pruning): when it is None, it takes
    the run's ``max_accuracy_loss``. ``must_be_last`` marks a method that calibrates on the final
    weights. ``summary`` is one line for ``--help`` and errors.
    """

    name: str
    section: type[BaseModel]
    knob: str
    grid: tuple[float, ...]
    run: MethodRun
    summary: str
    must_be_last: bool = False

    def knob_value(self, section: BaseModel) -> Any:
        """The knob's value in ``section`` (None: not given, the search chooses it)."""
        return getattr(section, self.knob)

    def with_knob(self, section: BaseModel, value: Any) -> BaseModel:
        """Return a validated copy of ``section`` with the knob set to ``value``."""
        return self.section.model_validate({**section.model_dump(), self.knob: value})


_METHODS: dict[str, SlimMethod] = {}
_BUILTIN = ("edge_deploy.slim.slimming", "edge_deploy.slim.scalpel", "edge_deploy.slim.activation")


def register_method(method: SlimMethod) -> SlimMethod:
    """Add ``method`` to the registry under its name and return it. Raises EdgeDeployError
    when another method already has that name."""
    known = _METHODS.get(method.name)
    if known is not None and known is not method:
        raise EdgeDeployError(f"slim method {method.name!r} is registered twice",
                              hint="give the new method another name")
    _METHODS[method.name] = method
    return method


def _load_builtin() -> None:
    import importlib

    for module in _BUILTIN:
        importlib.import_module(module)


def registered_methods() -> dict[str, SlimMethod]:
    """Return every registered method by name, the built-in ones first."""
    _load_builtin()
    return dict(_METHODS)


def get_method(name: str) -> SlimMethod:
    """Return the method called ``name``. Raises EdgeDeployError naming the known ones."""
    methods = registered_methods()
    if name not in methods:
        raise EdgeDeployError(f"unknown slim method {name!r}",
                              hint=f"use --method with one of {', '.join(methods)}")
    return methods[name]


def check_methods(names: Sequence[str]) -> list[SlimMethod]:
    """Return the methods of ``names`` in order: known, each once, a ``must_be_last`` one only
    last. Raises EdgeDeployError otherwise."""
    names = list(names)
    if not names:
        raise EdgeDeployError("no slim method given",
                              hint=f"use --method with one of {', '.join(registered_methods())}")
    methods = [get_method(name) for name in names]
    if len(set(names)) != len(names):
        raise EdgeDeployError(f"slim method repeated in {names}", hint="name each method once; use passes for more")
    for method in methods[:-1]:
        if method.must_be_last:
            raise EdgeDeployError(f"{method.name} must be the last method",
                                  hint="it calibrates on the final weights: e.g. --method scalpel --method "
                                       f"{method.name}")
    return methods
