"""Where the non-Python parts of edge-deploy live.

In a source checkout (or an editable install) ``templates/``, ``firmware/`` and ``boards/`` sit at
the repository root. A wheel carries them inside the package as ``edge_deploy/_data/<name>``.
"""

from __future__ import annotations

from pathlib import Path

from edge_deploy.errors import EdgeDeployError

_PACKAGE_DIR = Path(__file__).resolve().parent
_RESOURCES = ("templates", "firmware", "boards")


def resource_dir(name: str) -> Path:
    """Return the directory of the bundled resource ``name`` (templates, firmware or boards).

    Raises EdgeDeployError if the installation does not contain it.
    """
    if name not in _RESOURCES:
        raise ValueError(f"unknown resource {name!r}; expected one of {_RESOURCES}")
    candidates = [_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent.parent / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise EdgeDeployError(
        f"the edge-deploy installation has no '{name}' directory (looked in "
        + ", ".join(str(c) for c in candidates)
        + ")",
        hint="reinstall with 'pip install .' from the repository root",
    )


def package_data_dir() -> Path:
    """Return the directory of data files shipped inside the Python package itself."""
    return _PACKAGE_DIR
