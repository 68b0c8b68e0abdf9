"""What ``edge-deploy build`` accepts as MODEL, turned into an int8 graph.

* ``.tflite``: an int8 TFLite flatbuffer, imported as it is;
* ``.pt``: an edge-deploy checkpoint, lowered and quantized on the fly with calibration windows
  from the data the checkpoint names (``edge_deploy.quantize.pipeline.quantize_checkpoint``);
* ``.pt2``: a ``torch.export`` program, lowered from its ATen graph and calibrated on ``calib``
  (a float ``.npy`` batch; :mod:`edge_deploy.quantize.exported`);
* ``.yaml`` / ``.yml``: a pipeline file (train -> slim -> quantize), see
  :mod:`edge_deploy.build.pipeline`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph


@dataclass
class ModelSource:
    """An int8 graph ready to build, the ``.tflite`` bytes that describe it (the reference for
    ``edge-deploy run --check``), a summary of where it came from and files to keep with the
    build (``extra_files``: relative path -> bytes, e.g. a pipeline's checkpoints)."""

    graph: Graph
    tflite: bytes
    kind: str
    path: Path
    details: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)


def load_model_source(path: str | os.PathLike, *, calib: str | os.PathLike | None = None) -> ModelSource:
    """Read MODEL (``.tflite``, ``.pt`` or a pipeline ``.yaml``) and return its int8 graph.

    ``calib`` (for a checkpoint) overrides the calibration data: a folder of records or a ``.npy``
    batch; by default the checkpoint's own training data (or the bundled excerpt) is used.
    Raises EdgeDeployError when the file is missing, of an unknown kind, or not an int8 model.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"model {path} does not exist",
                              hint="pass a .tflite file, a model.pt checkpoint or a pipeline .yaml")
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        from edge_deploy.tflite import import_tflite

        data = path.read_bytes()
        graph = import_tflite(data, name=_model_name(path), source=str(path))
        if not graph.is_quantized:
            raise EdgeDeployError(f"{path} is a float model; edge-deploy build needs int8",
                                  hint="convert it with full-integer quantization, or build from the model.pt")
        return ModelSource(graph=graph, tflite=data, kind="tflite", path=path)
    if suffix == ".pt":
        return _from_checkpoint(path, calib)
    if suffix == ".pt2":
        return _from_program(path, calib)
    if suffix in (".yaml", ".yml"):
        from edge_deploy.build.pipeline import run_pipeline

        return run_pipeline(path)
    raise EdgeDeployError(f"{path}: unknown model kind '{suffix or '(no suffix)'}'",
                          hint="pass a .tflite file, a model.pt checkpoint, a torch.export .pt2 or a pipeline .yaml")


def _model_name(path: Path) -> str:
    return path.parent.name if path.stem == "model" and path.parent.name else path.stem


def _from_checkpoint(path: Path, calib: str | os.PathLike | None) -> ModelSource:
    from edge_deploy.build.act_thresholds import carry_thresholds
    from edge_deploy.quantize.pipeline import quantize_checkpoint
    from edge_deploy.tflite import export_tflite, import_tflite
    from edge_deploy.train.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path)
    quantized = quantize_checkpoint(checkpoint, calib)
    graph = quantized.graph
    graph.name = _model_name(path)
    tflite = export_tflite(graph)
    # Build from what the .tflite holds, so the firmware and `run --check` see the same model.
    reloaded = import_tflite(tflite, name=graph.name, source=str(path))
    reloaded.metadata.update(graph.metadata)
    carry_thresholds(graph, reloaded)  # activation pruning is not expressible in a .tflite
    details = {"calibration_windows": quantized.report.get("calibration_windows"),
               "ensemble_members": quantized.report.get("ensemble_members"),
               "member_quantized": quantized.report.get("member_quantized")}
    return ModelSource(graph=reloaded, tflite=tflite, kind="checkpoint", path=path, details=details)


def _from_program(path: Path, calib: str | os.PathLike | None) -> ModelSource:
    from edge_deploy.quantize.exported import load_program, quantize_program
    from edge_deploy.tflite import export_tflite, import_tflite

    quantized = quantize_program(load_program(path), calib, name=_model_name(path))
    tflite = export_tflite(quantized.graph)
    # Build from what the .tflite holds, so the firmware and `run --check` see the same model.
    graph = import_tflite(tflite, name=quantized.graph.name, source=str(path))
    return ModelSource(graph=graph, tflite=tflite, kind="torch.export", path=path,
                       details={"calibration_windows": quantized.report["calibration_windows"]})
