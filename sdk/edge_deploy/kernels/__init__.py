"""The kernel registry: one spec per C kernel under ``edge_deploy/kernels/`` (see
:mod:`edge_deploy.kernels.base`), discovered at import, and the choice among them.

* :func:`get_kernel` / :func:`all_kernels` / :func:`kernels_for`: the registered specs;
* :mod:`edge_deploy.kernels.cost`: one cost model (modelled Cortex-M4 cycles) with coefficients
  from ``costs.json`` in this package, versioned with the kernel sources;
* :mod:`edge_deploy.kernels.choose`: :class:`KernelPolicy` (the build options as filters) and
  :func:`choose_kernels`, which picks the cheapest applicable kernel per layer and records why;
* :mod:`edge_deploy.kernels.library`: where the functions come from (edge-deploy's ``firmware/``
  or an upstream CMSIS-NN checkout): their API as declared, the sources a model needs.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from edge_deploy.errors import EdgeDeployError
from edge_deploy.kernels.base import FAMILIES, CArray, CConstant, KernelContext, KernelSpec, LayerCall


@cache
def _registry() -> dict[str, KernelSpec]:
    found: dict[str, KernelSpec] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in ("base", "cost", "choose", "coverage", "library"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "KERNEL", None)
        if not isinstance(spec, KernelSpec) or spec.name != info.name:
            raise RuntimeError(f"edge_deploy.kernels.{info.name} must define KERNEL, a KernelSpec named {info.name!r}")
        found[spec.name] = spec
    return found


def all_kernels() -> list[KernelSpec]:
    """Every registered kernel spec, sorted by C name."""
    return [_registry()[name] for name in sorted(_registry())]


def get_kernel(name: str) -> KernelSpec:
    """The spec of the C kernel ``name``. Raises EdgeDeployError for an unknown name."""
    try:
        return _registry()[name]
    except KeyError:
        raise EdgeDeployError(f"unknown kernel {name!r}", f"kernels: {', '.join(sorted(_registry()))}") from None


def kernels_for(op_kind: str, epilogue: str | None = None) -> list[KernelSpec]:
    """The kernels serving ``op_kind`` (with the ``epilogue`` op fused, or none), sorted by name."""
    return [k for k in all_kernels() if k.serves(op_kind) and k.epilogue == epilogue]


__all__ = ["FAMILIES", "CArray", "CConstant", "KernelContext", "KernelSpec", "LayerCall", "all_kernels",
           "get_kernel", "kernels_for"]
