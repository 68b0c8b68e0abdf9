"""Where the CMSIS-NN functions a model calls come from: edge-deploy's own implementation
(``firmware/``, the default) or an upstream CMSIS-NN checkout (``--cmsis-nn PATH``).

:class:`KernelLibrary` reads a library as a compiler would see it, from its files: the prototypes
its ``arm_nnfunctions.h`` declares (the API the kernel partials render calls for: since v7.0.0
``arm_convolve_s8`` takes ``upscale_dims``; the ``*_wrapper_s8`` entry points pick upstream's fast
1x1 and 3x3 depthwise paths), the structs of its ``arm_nn_types.h``, and an index of its ``.c``
files, from which a project compiles only what its calls need (:meth:`KernelLibrary.sources`).
No release number is read: an upstream checkout has none in its files; :meth:`api_level` infers
the newest release whose functions (each kernel spec's ``upstream``) it all declares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from edge_deploy.errors import EdgeDeployError
from edge_deploy.paths import resource_dir
from edge_deploy.toolchain.csource import Prototype, SourceIndex, parse_prototypes, parse_structs

OWN = "edge-deploy"
UPSTREAM = "cmsis-nn"
# Upstream sources that never build for a Cortex-M4 with arm-none-eabi-gcc or are not kernels:
# half-precision kernels need float16_t, which GCC 12's arm_neon-less headers do not define.
_UPSTREAM_EXCLUDE = ("*_f16.c",)


def release_key(release: str) -> tuple[int, ...]:
    """``"7.0.0"`` -> ``(7, 0, 0)``, for ordering releases."""
    return tuple(int(part) for part in release.split("."))


@dataclass(frozen=True, eq=False)
class KernelLibrary:
    """One library of CMSIS-NN functions. ``kind`` is ``"edge-deploy"`` or ``"cmsis-nn"``;
    ``root`` the folder; ``header`` its ``arm_nnfunctions.h``; ``source_dir`` the folder its
    ``.c`` files are under (relative to ``root``); ``include_dirs`` what its sources compile
    with (relative to ``root``)."""

    kind: str
    root: Path
    header: Path
    types_header: Path
    source_dir: str
    include_dirs: tuple[str, ...]
    exclude: tuple[str, ...] = field(default=())

    @property
    def is_upstream(self) -> bool:
        """True for an upstream CMSIS-NN checkout."""
        return self.kind == UPSTREAM

    @cached_property
    def prototypes(self) -> dict[str, Prototype]:
        """Every function the library's ``arm_nnfunctions.h`` declares, by name."""
        return parse_prototypes(self.header.read_text(errors="replace"))

    @cached_property
    def structs(self) -> dict[str, tuple[str, ...]]:
        """The ``cmsis_nn_*`` structs of its ``arm_nn_types.h`` (members, normalised)."""
        return parse_structs(self.types_header.read_text(errors="replace"))

    @cached_property
    def index(self) -> SourceIndex:
        """The functions each of its ``.c`` files defines and the names each uses."""
        return SourceIndex.scan(self.root / self.source_dir, exclude=self.exclude)

    def declares(self, name: str) -> bool:
        """True when the library's header declares the function ``name``."""
        return name in self.prototypes

    def takes(self, function: str, param: str) -> bool:
        """True when ``function`` is declared with a parameter named ``param`` (e.g.
        ``arm_convolve_s8`` and ``upscale_dims``, since v7.0.0)."""
        proto = self.prototypes.get(function)
        return proto is not None and param in proto.param_names

    def defines(self, name: str) -> bool:
        """True when one of the library's ``.c`` files defines the function ``name``."""
        return name in self.index.definers

    def sources(self, names) -> list[str]:
        """The ``.c`` files (relative to ``source_dir``) that define ``names`` and everything they
        call, sorted."""
        return self.index.closure(names)

    def api_level(self, specs) -> str | None:
        """The newest release ``R`` such that the library declares every function of ``specs``
        (kernel specs) that upstream has had since ``R`` or earlier; None when it lacks even the
        oldest. Only meaningful for an upstream checkout."""
        releases = sorted({s.upstream for s in specs if s.upstream}, key=release_key)
        level = None
        for release in releases:
            if all(self.declares(s.name) for s in specs if s.upstream and release_key(s.upstream) <= release_key(release)):
                level = release
            else:
                break
        return level

    def struct_mismatches(self, other: KernelLibrary) -> list[str]:
        """The ``cmsis_nn_*`` structs both libraries define with different members (code compiled
        against one cannot be called with the other's)."""
        return sorted(name for name in self.structs.keys() & other.structs.keys()
                      if self.structs[name] != other.structs[name])

    def describe(self) -> str:
        """How the library is named in messages and comments."""
        return "edge-deploy's kernels" if not self.is_upstream else f"CMSIS-NN at {self.root}"


@cache
def own_library() -> KernelLibrary:
    """edge-deploy's implementation of the CMSIS-NN functions it calls (``firmware/``)."""
    firmware = resource_dir("firmware")
    return KernelLibrary(OWN, firmware, firmware / "include" / "arm_nnfunctions.h",
                         firmware / "include" / "arm_nn_types.h", "kernels", ("include", "kernels"))


def upstream_library(path: str | os.PathLike) -> KernelLibrary:
    """The upstream CMSIS-NN checkout at ``path`` (its root: ``Include/`` and ``Source/``).

    Raises EdgeDeployError when the folder is not one."""
    root = Path(path).resolve()
    header = root / "Include" / "arm_nnfunctions.h"
    if not header.is_file() or not (root / "Include" / "arm_nn_types.h").is_file() or not (root / "Source").is_dir():
        raise EdgeDeployError(
            f"--cmsis-nn {path} is not a CMSIS-NN checkout (no Include/arm_nnfunctions.h, Include/arm_nn_types.h "
            "and Source/)",
            hint="pass the root of a CMSIS-NN clone (https://github.com/ARM-software/CMSIS-NN), e.g. a tag v6.0.0 or later",
        )
    return KernelLibrary(UPSTREAM, root, header, root / "Include" / "arm_nn_types.h", "Source", ("Include",),
                         _UPSTREAM_EXCLUDE)
