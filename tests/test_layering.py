"""The package layering of docs/architecture.md, checked from the code's own imports (module-level
and inside functions): every package imports only packages below it, so there is no import cycle
between packages outside the orchestration ones (build, check, cli, demo, selftest), which sit
on top and wire the stages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sdk" / "edge_deploy"

# Lowest first; a package may import packages of earlier rows only (and itself).
LAYERS = [
    {"errors"},
    {"paths", "fsutil", "ctext", "elf"},
    {"numerics"},
    {"ir", "boards", "link", "data", "models"},
    {"emulators"},
    {"ops", "toolchain", "plan", "profile", "flash"},
    {"interp", "tflite", "kernels", "train"},
    {"quantize"},
    {"slim", "codegen"},
]
ORCHESTRATION = {"build", "check", "cli", "demo", "selftest", "testing", "__main__", "__init__"}


def _rank() -> dict[str, int]:
    return {name: i for i, row in enumerate(LAYERS) for name in row}


def _imports() -> dict[str, set[str]]:
    """Package -> the edge_deploy packages its modules import."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edge_deploy."):
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names if a.name.startswith("edge_deploy.")]
            for module in modules:
                target = module.split(".")[1]
                if target != package:
                    found.setdefault(package, set()).add(target)
    return found


def test_every_package_has_a_layer():
    packages = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir()
                if (p.is_dir() and (p / "__init__.py").is_file()) or p.suffix == ".py"}
    assert packages - ORCHESTRATION == set(_rank()), "place a new package in LAYERS (and docs/architecture.md)"


def test_packages_import_only_lower_layers():
    rank = _rank()
    violations = sorted(f"{package} -> {target}" for package, targets in _imports().items()
                        if package not in ORCHESTRATION for target in targets
                        if target in ORCHESTRATION or rank[target] >= rank[package])
    assert not violations, "imports against the layering: " + ", ".join(violations)


def test_the_import_scan_sees_function_level_imports(tmp_path, monkeypatch):
    """The scan is not fooled by an import hidden in a function."""
    fake = tmp_path / "edge_deploy"
    (fake / "ir").mkdir(parents=True)
    (fake / "ir" / "__init__.py").write_text("")
    (fake / "ir" / "graph.py").write_text("def f():\n    from edge_deploy.codegen import x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _imports() == {"ir": {"codegen"}}


@pytest.mark.parametrize("doc", ["architecture.md"])
def test_the_architecture_doc_names_every_package(doc):
    text = (PACKAGE.parent.parent / "docs" / doc).read_text()
    missing = [name for row in LAYERS for name in row if f"edge_deploy.{name}" not in text]
    assert not missing, f"docs/{doc} does not name {missing}"
