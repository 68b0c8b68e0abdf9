"""A model from the user's own PyTorch code -> int8 graph: a ``torch.export`` program (``.pt2``)
or a ``package.module:factory`` exported on the fly, lowered by :mod:`edge_deploy.quantize.aten`
and calibrated on a float ``.npy`` batch (the batch-file convention, either layout)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.quantize.pipeline import QuantizedModel, int8_predictions, to_ir_layout
from edge_deploy.quantize.ptq import quantize_graph


def load_program(path: str | os.PathLike):
    """The ExportedProgram saved at ``path`` by ``torch.export.save``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"model {path} does not exist", "pass a file written by torch.export.save")
    try:
        return torch.export.load(str(path))
    except Exception as exc:  # torch raises many types for a file that is not an exported program
        raise EdgeDeployError(f"{path} is not a torch.export program ({type(exc).__name__}: {exc})",
                              "write it with torch.export.save(torch.export.export(model.eval(), (x,)), path)") from None


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,96,96"`` -> ``(1, 3, 96, 96)``."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise EdgeDeployError(f"--input-shape {text!r} is not a shape", "give positive integers, e.g. 1,3,96,96")
    return shape


def export_factory(spec: str, input_shape: tuple[int, ...], weights: str | os.PathLike | None = None):
    """Call ``package.module:factory`` (importable from the current folder or ``sys.path``), load
    ``weights`` (a state dict saved with ``torch.save``) and export it with a zero input of
    ``input_shape``; returns the ExportedProgram."""
    import torch

    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise EdgeDeployError(f"--model {spec!r} is not package.module:factory", "e.g. --model mynets.vision:build")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise EdgeDeployError(f"cannot load --model {spec}: {exc}",
                              "run from the folder holding the package, or add it to PYTHONPATH") from None
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise EdgeDeployError(f"--model {spec} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = torch.load(str(weights), map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        except Exception as exc:  # unreadable file, or keys and shapes that do not match the module
            raise EdgeDeployError(f"cannot load --weights {weights} into {spec}: {exc}",
                                  "save them with torch.save(model.state_dict(), path)") from None
    model.eval()
    try:
        return torch.export.export(model, (torch.zeros(input_shape),))
    except Exception as exc:  # export fails on data-dependent control flow and the like
        raise EdgeDeployError(f"torch.export cannot export {spec} for input {input_shape}: {exc}",
                              "see the torch.export documentation on what a forward may do") from None


def program_input_shape(program) -> tuple[int, ...]:
    """The PyTorch shape of the program's (single, batch-1) input."""
    inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in inputs:
            return tuple(int(d) for d in node.meta["val"].shape)
    raise EdgeDeployError("the exported program has no input tensor")


def calibration_inputs(program, calib: str | os.PathLike | None, count: int = 256, seed: int = 0) -> np.ndarray:
    """Up to ``count`` float samples of ``calib`` (a ``.npy`` batch, either layout) in PyTorch layout."""
    from edge_deploy.quantize.batchfile import check_samples, read_batch, to_ir_batch
    from edge_deploy.quantize.pipeline import to_torch_layout

    if calib is None or not str(calib).endswith(".npy"):
        raise EdgeDeployError("a torch.export model needs --calib X.npy (float32 samples shaped like its input)",
                              "save a few hundred representative inputs with numpy.save")
    sample = program_input_shape(program)[1:]
    x = read_batch(calib, "calibration batch")
    if not np.issubdtype(x.dtype, np.floating):
        raise EdgeDeployError(f"calibration batch is {x.dtype}; calibration needs float samples",
                              "save the float32 samples, before any quantization")
    ir_sample = to_ir_layout(np.zeros((1, *sample), dtype=np.float32)).shape[1:]
    x = to_torch_layout(check_samples(to_ir_batch(x, ir_sample, sample, "calibration batch"), "calibration batch"),
                        len(sample))
    if len(x) > count:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), count, replace=False))]
    return x.astype(np.float32)


def float_predictions(program, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """The exported model's top class for each sample of ``x`` (PyTorch layout), one at a time
    (the program is specialized to batch 1)."""
    import torch

    module = program.module()
    with torch.no_grad():
        return np.array([int(module(torch.from_numpy(x[i:i + 1])).argmax()) for i in range(len(x))])


def quantize_program(program, calib, *, name: str = "model", method: str = "minmax", percentile: float = 99.99,
                     count: int = 256) -> QuantizedModel:
    """Lower ``program``, calibrate on ``calib`` and return the int8 model with a per-layer report."""
    from edge_deploy.quantize.aten import lower_exported

    x = calibration_inputs(program, calib, count)  # first: a bad batch is refused before any work
    float_graph = lower_exported(program, name)
    graph = quantize_graph(float_graph, to_ir_layout(x), method=method, percentile=percentile)
    layers = [{"layer": op.name, "kind": op.kind, "shape": list(graph.tensor(op.outputs[0]).shape),
               "scale": float(graph.tensor(op.outputs[0]).scale), "zero_point": graph.tensor(op.outputs[0]).zero_point}
              for op in graph.ops]
    return QuantizedModel(float_graph, graph, {"method": method, "calibration_windows": int(len(x)), "layers": layers})


def compare_program(program, graph, x: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Float (the exported program) vs int8 (reference interpreter) top-1 on ``x``: agreement,
    and accuracies when ``labels`` are given."""
    float_pred, int8_pred = float_predictions(program, x), int8_predictions(graph, x)
    result = {"samples": int(len(x)), "agreement": float(np.mean(float_pred == int8_pred))}
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(x):
            raise EdgeDeployError(f"{len(labels)} labels for {len(x)} samples", "give one label per calibration sample")
        result.update(float_accuracy=float(np.mean(float_pred == labels)), int8_accuracy=float(np.mean(int8_pred == labels)))
    return result
