"""Checkpoint -> int8 graph: lowering, calibration data, quantization and the accuracy check."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run
from edge_deploy.ir.graph import Graph
from edge_deploy.quantize.ptq import dequantize, quantize_graph, quantize_input


def to_ir_layout(x: np.ndarray) -> np.ndarray:
    """PyTorch channels-first batch -> IR NHWC batch: ``(N, C, L) -> (N, 1, L, C)``,
    ``(N, C, H, W) -> (N, H, W, C)``."""
    x = np.asarray(x)
    if x.ndim == 3:
        return np.ascontiguousarray(x.transpose(0, 2, 1)[:, None])
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x


def to_torch_layout(x: np.ndarray, rank: int) -> np.ndarray:
    """IR NHWC batch -> PyTorch channels-first batch of samples of ``rank`` dimensions (the
    inverse of :func:`to_ir_layout`): ``(N, 1, L, C) -> (N, C, L)`` for rank 2,
    ``(N, H, W, C) -> (N, C, H, W)`` for rank 3."""
    x = np.asarray(x)
    if rank == 2:
        return np.ascontiguousarray(x[:, 0].transpose(0, 2, 1))
    if rank == 3:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def activation_plan(checkpoint) -> dict[str, Any] | None:
    """The checkpoint's activation-pruning plan (``arch.slim.activation``), or None."""
    return ((checkpoint.arch or {}).get("slim") or {}).get("activation")


def activation_thresholds(checkpoint, member: int = 0) -> dict[str, float]:
    """``{ReLU fx node: float threshold}`` of the pruned sites of ``member`` (empty without a
    plan). Raises EdgeDeployError for a "topk" plan, which has no fixed threshold to lower."""
    plan = activation_plan(checkpoint)
    if not plan:
        return {}
    if plan.get("mode", "threshold") != "threshold":
        raise EdgeDeployError(f"the activation plan uses mode {plan.get('mode')!r}, which has no fixed threshold "
                              "and cannot be lowered to int8", "re-run `edge-deploy slim -m activation` in threshold mode")
    return {s["node"]: float(s["threshold"][member]) for s in plan["sites"] if float(s["winner_rate"]) < 1.0}


def lower_checkpoint(checkpoint, member: int = 0) -> Graph:
    """Lower one member of a loaded checkpoint to the float IR (input ``(1, *checkpoint.input_shape)``),
    with its activation-pruning thresholds (``act_threshold`` attributes) when it has a plan."""
    from edge_deploy.quantize.lower import lower_module

    shape = (1, *checkpoint.input_shape)
    return lower_module(checkpoint.members[member], shape, name=str(checkpoint.arch.get("name", "model")),
                        activation_thresholds=activation_thresholds(checkpoint, member) or None,
                        activation_densities=_densities(checkpoint))


def _densities(checkpoint) -> dict[str, float] | None:
    plan = activation_plan(checkpoint)
    if not plan:
        return None
    return {s["node"]: float(s["density_after"]) for s in plan["sites"] if "density_after" in s}


def float_member(checkpoint, member: int = 0):
    """Member ``member`` as a float PyTorch module, with the activation plan applied when there is one."""
    import torch

    model = checkpoint.members[member].eval()
    plan = activation_plan(checkpoint)
    if not plan:
        return model
    from edge_deploy.models.pruning import pruned_members

    example = torch.zeros(1, *checkpoint.input_shape)
    # pruned_members indexes thresholds by position, so pass this member's column alone.
    one = dict(plan, sites=[dict(s, threshold=[s["threshold"][member]]) for s in plan["sites"]])
    return pruned_members([model], one, example)[0]


def _adapted(checkpoint) -> dict[str, Any]:
    """The AdaBN record of a checkpoint adapted to another load ({} if not adapted)."""
    return dict(checkpoint.data.get("adapted_bn") or {})


def _data_spec(checkpoint) -> dict[str, Any]:
    spec = dict(checkpoint.data)
    if spec.get("kind", "windows") == "windows":
        # A model adapted by AdaBN runs at the load it was adapted to: calibrate and score there.
        spec.update(load_hp=_adapted(checkpoint).get("load_hp") or spec.get("load_hp", (0,)),
                    window=int(checkpoint.input_shape[-1]))
    return spec


def load_split(checkpoint, data: str | os.PathLike | None, split: str, *, snr_db: float | None = None,
               noise_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples and labels of ``split`` from ``data`` (a folder; None: the checkpoint's own data,
    or its kind's bundled example when it has none; for a checkpoint adapted by AdaBN, the data
    and loads it was adapted on), cut as the checkpoint was trained; with ``snr_db``, white noise
    at that SNR is added to every sample (seeded by ``noise_seed``) before it is normalized, as
    ``evaluate`` does."""
    from edge_deploy.data import load_split as load_data_split

    adapted = _adapted(checkpoint)
    default = adapted["data"] if adapted else checkpoint.data.get("data")
    source = default if data is None else str(data)
    noise = {} if snr_db is None else {"snr_db": float(snr_db), "seed": noise_seed}
    x, y, _ = load_data_split(_data_spec(checkpoint), split, data=source, **noise)
    return x, y


def calibration_batch(checkpoint, calib: str | os.PathLike | None, count: int = 256, seed: int = 0) -> np.ndarray:
    """Float calibration inputs in PyTorch layout: a ``.npy`` batch file, or up to ``count``
    training samples drawn (seeded) from a data folder / the checkpoint's data.
    Raises EdgeDeployError when the batch does not fit the model input, holds no sample or a
    NaN / infinity."""
    expected = checkpoint.input_shape
    if calib is not None and str(calib).endswith(".npy"):
        from edge_deploy.quantize.batchfile import check_samples, read_batch, to_ir_batch

        x = read_batch(calib, "calibration batch")
        if not np.issubdtype(x.dtype, np.floating):
            raise EdgeDeployError(f"calibration batch is {x.dtype}; calibration needs float samples",
                                  "save the float32 samples, before any quantization")
        # Either layout is accepted (the convention of every batch file); calibration works channels-first.
        ir_sample = to_ir_layout(np.zeros((1, *expected), dtype=np.float32)).shape[1:]
        ir = check_samples(to_ir_batch(x, ir_sample, expected, "calibration batch"), "calibration batch")
        x = to_torch_layout(ir, len(expected))
    else:
        x, _ = load_split(checkpoint, calib, "train")
    if tuple(x.shape[1:]) != expected:
        raise EdgeDeployError(f"calibration batch has shape {x.shape}; expected (N, {', '.join(map(str, expected))})",
                              "pass N samples shaped like the model input without its batch dimension")
    if len(x) > count:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), count, replace=False))]
    return x.astype(np.float32)


@dataclass
class QuantizedModel:
    """The result of quantizing a checkpoint: float and int8 graphs plus a per-layer report."""

    float_graph: Graph
    graph: Graph
    report: dict[str, Any] = field(default_factory=dict)


def quantize_checkpoint(checkpoint, calib=None, *, method: str = "minmax", percentile: float = 99.99,
                        count: int = 256) -> QuantizedModel:
    """Lower member 0 of ``checkpoint``, calibrate on ``calib`` and return the int8 model.

    The report lists each activation's scale and zero point and each weight's scale range.
    """
    x = calibration_batch(checkpoint, calib, count)   # first: a bad batch is refused before any work
    float_graph = lower_checkpoint(checkpoint)
    graph = quantize_graph(float_graph, to_ir_layout(x), method=method, percentile=percentile)
    graph.metadata.update({"classes": list(checkpoint.classes), "normalization": dict(checkpoint.normalization)})
    layers = []
    for op in graph.ops:
        out = graph.tensor(op.outputs[0])
        row = {"layer": op.name, "kind": op.kind, "shape": list(out.shape), "scale": float(out.scale), "zero_point": out.zero_point}
        if "act_threshold" in op.attrs:
            row["act_threshold"] = op.attrs["act_threshold"]
        if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
            w = graph.tensor(op.inputs[1]).quant.scale
            row["weight_scale_min"], row["weight_scale_max"] = float(w.min()), float(w.max())
        layers.append(row)
    report = {"method": method, "calibration_windows": int(len(x)), "layers": layers,
              "ensemble_members": len(checkpoint.members), "member_quantized": 0}
    return QuantizedModel(float_graph, graph, report)


def int8_predictions(graph: Graph, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class predictions of the int8 graph for a float PyTorch-layout batch."""
    quant = graph.tensor(graph.inputs[0]).quant
    out_quant = graph.tensor(graph.outputs[0]).quant
    preds = []
    for start in range(0, len(x), batch):
        q = quantize_input(to_ir_layout(x[start : start + batch]), quant)
        preds.append(dequantize(run(graph, q), out_quant).argmax(axis=1))
    return np.concatenate(preds)


def compare_accuracy(checkpoint, graph: Graph, data=None, split: str = "test", *,
                     snr_db: float | None = None) -> dict[str, Any]:
    """Float (PyTorch member 0, with its activation plan) vs int8 (reference interpreter)
    accuracy on a split, clean or with white noise at ``snr_db`` (noise seed 0)."""
    import torch

    x, y = load_split(checkpoint, data, split, snr_db=snr_db)
    with torch.no_grad():
        float_pred = float_member(checkpoint)(torch.from_numpy(x)).argmax(dim=1).numpy()
    int8_pred = int8_predictions(graph, x)
    return {
        "split": split,
        "windows": int(len(y)),
        "float_accuracy": float(np.mean(float_pred == y)),
        "int8_accuracy": float(np.mean(int8_pred == y)),
        "agreement": float(np.mean(float_pred == int8_pred)),
    }
