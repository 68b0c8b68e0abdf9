"""Activation-pruning thresholds (``act_threshold``) across the ``.tflite`` round trip of a build.

A ``.tflite`` file cannot say "after this op, values below t become the zero point", so a build
exports the graph without them, keeps them next to ``model.tflite`` in ``act_thresholds.json``
and puts them back on the imported graph (for the generated code) and on the reference graph of
``edge-deploy run --check``. Ops are matched by position (both graphs list ops in run order) and
checked by kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph

THRESHOLDS_NAME = "act_thresholds.json"


def threshold_record(graph: Graph) -> list[dict[str, Any]]:
    """``[{"op": index, "name", "kind", "threshold", "density"}]`` for every op of ``graph`` with
    an ``act_threshold`` (int8 units; ``density`` when known); empty when there is none."""
    return [{"op": i, "name": op.name, "kind": op.kind, "threshold": int(op.attrs["act_threshold"]),
             **({"density": float(op.attrs["act_density"])} if "act_density" in op.attrs else {})}
            for i, op in enumerate(graph.ops) if "act_threshold" in op.attrs]


def apply_record(graph: Graph, record: list[dict[str, Any]]) -> Graph:
    """Set ``act_threshold`` on the ops of ``graph`` that ``record`` names (in place); returns
    ``graph``. Raises EdgeDeployError when an entry does not match the graph's op at that place."""
    for entry in record:
        index = int(entry["op"])
        if index >= len(graph.ops) or graph.ops[index].kind != entry["kind"]:
            raise EdgeDeployError(f"activation threshold for op {index} ({entry['kind']}, '{entry['name']}') does not "
                                  f"match graph '{graph.name}'", hint="rebuild the folder with edge-deploy build")
        graph.ops[index].attrs["act_threshold"] = int(entry["threshold"])
        if "density" in entry:
            graph.ops[index].attrs["act_density"] = float(entry["density"])
    return graph


def carry_thresholds(source: Graph, reloaded: Graph) -> Graph:
    """Copy ``source``'s thresholds onto ``reloaded`` (its ``.tflite`` round trip); returns ``reloaded``."""
    return apply_record(reloaded, threshold_record(source))


def thresholds_file(graph: Graph) -> dict[str, bytes]:
    """``{THRESHOLDS_NAME: JSON bytes}`` for a build folder when ``graph`` has thresholds, else ``{}``."""
    record = threshold_record(graph)
    if not record:
        return {}
    return {THRESHOLDS_NAME: (json.dumps({"format": "edge-deploy/act-thresholds", "version": 1,
                                          "ops": record}, indent=2) + "\n").encode()}


def load_thresholds(build_dir: str | Path, graph: Graph) -> Graph:
    """Apply ``build_dir``'s ``act_thresholds.json`` to ``graph`` when the file exists; returns ``graph``."""
    path = Path(build_dir) / THRESHOLDS_NAME
    if not path.is_file():
        return graph
    try:
        record = json.loads(path.read_text())["ops"]
    except (OSError, ValueError, KeyError) as exc:
        raise EdgeDeployError(f"cannot read {path}: {exc}", hint="rebuild the folder with edge-deploy build") from None
    return apply_record(graph, record)
