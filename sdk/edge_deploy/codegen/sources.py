"""Which kernel sources a generated project compiles, and how: only those its model calls, each
with the rounding of the layers that call it.

The generated ``model.c`` calls functions (each layer's partial: the kernel, its
``*_get_buffer_size``, an upstream wrapper); every name resolves to the library that defines it
(an upstream CMSIS-NN checkout first with ``--cmsis-nn``, then edge-deploy's ``firmware/``), and
each library's sources follow from those calls (:meth:`~edge_deploy.kernels.library.KernelLibrary.sources`).

Rounding is a compile-time switch in CMSIS-NN (``CMSIS_NN_USE_SINGLE_ROUNDING``) and in
edge-deploy's kernels alike, so it is set per object: the sources reached from the layers that
round once (``--rounding litert``: FULLY_CONNECTED, as the TFLite interpreter) form one
:class:`SourceGroup`, the others another. A file both groups need is compiled once in each,
and the later group's copy has its functions renamed (``-Dname=name_<suffix>`` on every object
of that group), so one firmware holds both roundings of a shared helper without a clash. The
same renaming keeps edge-deploy's helpers apart from upstream's when a ``--cmsis-nn`` build
runs one of edge-deploy's kernels for an op upstream lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edge_deploy.errors import EdgeDeployError
from edge_deploy.kernels.library import KernelLibrary, own_library
from edge_deploy.toolchain.csource import identifiers

# edge-deploy build --rounding: the firmware's convention, and the interpreter policy it matches.
ROUNDINGS = {"cmsis-nn": "double", "litert": "litert"}
SINGLE_ROUNDING_DEFINE = "CMSIS_NN_USE_SINGLE_ROUNDING"


def interpreter_rounding(rounding: str) -> str:
    """The reference interpreter's rounding policy for a build's ``--rounding`` (``"cmsis-nn"``:
    double rounding everywhere, as TFLM + CMSIS-NN; ``"litert"``: as the TFLite interpreter).
    Raises EdgeDeployError for an unknown name."""
    if rounding not in ROUNDINGS:
        raise EdgeDeployError(f"unknown --rounding '{rounding}'", hint=f"use one of: {', '.join(ROUNDINGS)}")
    return ROUNDINGS[rounding]


@dataclass
class SourceGroup:
    """Sources of one library compiled with one rounding: ``sources`` relative to the library's
    source folder, ``renames`` (function -> name in this group's objects), ``roots`` (the
    functions model.c calls in it)."""

    library: KernelLibrary
    rounding: str  # "double" or "single"
    roots: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``cmsis_nn`` / ``kernels``, with ``_single_rounding`` for single rounding."""
        base = "cmsis_nn" if self.library.is_upstream else "kernels"
        return base if self.rounding == "double" else f"{base}_single_rounding"

    @property
    def suffix(self) -> str:
        """What this group appends to a function it must keep apart from another group's."""
        return ("" if self.library.is_upstream else "_ed") + ("_single_rounding" if self.rounding == "single"
                                                              else "_double_rounding" if self.library.is_upstream
                                                              else "")

    @property
    def defines(self) -> list[str]:
        """The ``-D`` flags of this group's objects (rounding, renames), sorted."""
        flags = [f"-D{SINGLE_ROUNDING_DEFINE}"] if self.rounding == "single" else []
        return flags + [f"-D{name}={renamed}" for name, renamed in sorted(self.renames.items())]


@dataclass
class KernelSources:
    """Everything the Makefile needs about kernel sources: the groups in compile order, and the
    functions model.c calls that edge-deploy provides but the upstream header does not declare
    (their prototypes go into a generated header)."""

    groups: list[SourceGroup]
    fallback_prototypes: list[str]
    # typedefs of edge-deploy's ``cmsis_nn_*`` structs those prototypes use and the upstream
    # header lacks (v6.0.0 has no cmsis_nn_bmm_params), dependencies first.
    fallback_types: list[str] = field(default_factory=list)

    def library_groups(self, upstream: bool) -> list[SourceGroup]:
        """The groups of upstream's (True) or edge-deploy's (False) sources."""
        return [g for g in self.groups if g.library.is_upstream == upstream]

    def to_dict(self, kernels: str = "simd") -> dict:
        """For report.json: per group, the library, rounding and files, and how they compile
        (``include_dirs`` relative to the library's root, ``flags``: defines, with edge-deploy's
        kernel path ``kernels``), so another build of the same objects (the profiler's) can."""
        return {g.key: {"library": g.library.kind, "rounding": g.rounding, "sources": list(g.sources),
                        "renamed": dict(sorted(g.renames.items())), "include_dirs": list(g.library.include_dirs),
                        "flags": g.defines + (["-DED_NN_PORTABLE"] if kernels == "portable"
                                              and not g.library.is_upstream else [])}
                for g in self.groups}


def kernel_sources(layer_calls: list[tuple[str, KernelLibrary, str | None, str]],
                   upstream: KernelLibrary | None) -> KernelSources:
    """The kernel sources for a model whose layers are ``layer_calls``: per layer, its kernel's C
    function, the library providing it, the rounding ("double" / "single"; None for a layer
    that does not requantize, which takes its kernel's rounding, else double) and the layer's
    rendered C (its function body calls everything the layer needs). ``upstream`` is the
    ``--cmsis-nn`` checkout or None.

    Raises EdgeDeployError when one kernel function would need both roundings (model.c can call
    only one function by that name)."""
    own = own_library()
    groups: dict[tuple[str, str], SourceGroup] = {}

    def group(library: KernelLibrary, rounding: str) -> SourceGroup:
        return groups.setdefault((library.kind, rounding), SourceGroup(library, rounding))

    entry_rounding: dict[str, str] = {}
    for kernel, _, rounding, _ in layer_calls:
        if rounding and entry_rounding.setdefault(kernel, rounding) != rounding:
            raise EdgeDeployError(f"kernel {kernel} serves layers of both roundings; one firmware cannot hold both",
                                  hint="build with --rounding cmsis-nn")
    for kernel, library, _, text in layer_calls:
        rounding = entry_rounding.setdefault(kernel, "double")
        group(library, rounding).roots.add(kernel)
        for name in sorted(identifiers(text) - {kernel}):
            if upstream is not None and upstream.defines(name):
                group(upstream, rounding).roots.add(name)
            elif own.defines(name):
                group(own, rounding).roots.add(name)
    ordered = sorted(groups.values(), key=lambda g: (not g.library.is_upstream, g.rounding != "double"))
    # A helper model.c calls (a *_get_buffer_size) needed by both roundings: the first group owns it.
    owner: dict[str, SourceGroup] = {}
    for g in ordered:
        for name in sorted(g.roots):
            if name in owner and name in entry_rounding:
                raise EdgeDeployError(f"{name} is needed from two libraries", hint="build without --cmsis-nn")
            owner.setdefault(name, g)
    for g in ordered:
        g.roots = {name for name in g.roots if owner[name] is g}
        g.sources = g.library.sources(g.roots)
    # Every other function two groups' objects would both define: the owner keeps the name (a
    # root's group, else the first group), the others rename theirs.
    for g in ordered:
        for rel in g.sources:
            for name in sorted(g.library.index.defines[rel]):
                first = owner.setdefault(name, g)
                if first is not g:
                    g.renames[name] = f"{name}{g.suffix}"
    fallback = []
    if upstream is not None:
        for g in ordered:
            if not g.library.is_upstream:
                fallback += [own.prototypes[n].c_text() for n in sorted(g.roots)
                             if n in own.prototypes and not upstream.declares(n)]
    prototypes = sorted(set(fallback))
    types = _missing_structs(prototypes, own, upstream) if upstream is not None else []
    return KernelSources([g for g in ordered if g.sources], prototypes, types)


def _missing_structs(prototypes: list[str], own: KernelLibrary, upstream: KernelLibrary) -> list[str]:
    """The typedefs (C text, dependencies first) of the ``cmsis_nn_*`` structs ``prototypes``
    name, directly or through members, that ``own`` defines and ``upstream`` does not."""
    ours, theirs = own.structs, upstream.structs
    typedefs: list[str] = []
    seen: set[str] = set()

    def need(text: str) -> None:
        for name in sorted(set(re.findall(r"\bcmsis_nn_\w+", text))):
            if name in seen or name in theirs or name not in ours:
                continue
            seen.add(name)
            need("\n".join(ours[name]))
            members = "".join(f"    {member};\n" for member in ours[name])
            typedefs.append(f"typedef struct\n{{\n{members}}} {name};")

    need("\n".join(prototypes))
    return typedefs
