"""What ``edge-deploy build`` accepts as MODEL, turned into an int8 graph.

* ``.tflite``: an int8 TFLite flatbuffer, imported as it is;
* ``.pt``: an edge-deploy checkpoint, lowered and quantized on the fly with calibration windows
  from the data the checkpoint names (``edge_deploy.quantize.pipeline.quantize_checkpoint``);
* ``.pt2``: a ``torch.export`` program, lowered from its ATen graph and calibrated on ``calib``
  (a float ``.npy`` batch; :mod:`edge_deploy.quantize.exported`);
* ``.yaml`` / ``.yml``: a pipeline file (train -> slim -> quantize), see
  :mod:`edge_deploy.build.pipeline`;
* ``.keras`` or a SavedModel folder: converted to an int8 ``.tflite`` by TensorFlow's converter,
  calibrated on a ``.npy`` batch (:mod:`edge_deploy.quantize.tf_convert`; the tensorflow extra).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph

KINDS_HINT = ("pass a .tflite file, a model.pt checkpoint, a torch.export .pt2, a pipeline .yaml, or a .keras file / "
              "SavedModel folder")


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
    """Read MODEL (``.tflite``, ``.pt``, ``.pt2``, a pipeline ``.yaml``, ``.keras`` or a SavedModel
    folder) and return its int8 graph.

    ``calib`` (for a checkpoint) overrides the calibration data: a folder of records or a ``.npy``
    batch; by default the checkpoint's own training data (or the bundled excerpt) is used.
    Raises EdgeDeployError when the file is missing, of an unknown kind, or not an int8 model.
    """
    from edge_deploy.quantize.tf_convert import is_tensorflow_model

    path = Path(path)
    if is_tensorflow_model(path):
        return _from_tensorflow(path, calib)
    if path.is_dir():
        raise EdgeDeployError(f"{path} is a folder but not a SavedModel (it holds no saved_model.pb)", hint=KINDS_HINT)
    if not path.is_file():
        raise EdgeDeployError(f"model {path} does not exist", hint=KINDS_HINT)
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
                          hint=KINDS_HINT)


def _from_tensorflow(path: Path, calib: str | os.PathLike | None) -> ModelSource:
    from edge_deploy.quantize.tf_convert import convert_tensorflow
    from edge_deploy.tflite import import_tflite

    conversion = convert_tensorflow(path, calib)
    graph = import_tflite(conversion.tflite, name=_model_name(path), source=f"{path} (converted)")
    return ModelSource(graph=graph, tflite=conversion.tflite, kind="tensorflow", path=path,
                       details={"converter": "tensorflow", "calibration_samples": int(len(conversion.calibration))})


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
