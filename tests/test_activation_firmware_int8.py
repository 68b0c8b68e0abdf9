"""Activation pruning in the int8 graph: the plan's thresholds lowered as ``act_threshold``, the
reference interpreter applying them, and plan-free checkpoints left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run, run_graph
from edge_deploy.ir.graph import QuantParams
from edge_deploy.ops import get_op, kernel_params
from edge_deploy.models import build_model
from edge_deploy.quantize.lower import lower_module
from edge_deploy.quantize.pipeline import (calibration_batch, compare_accuracy, float_member, quantize_checkpoint,
                                           to_ir_layout)
from edge_deploy.quantize.ptq import dequantize, int8_threshold, quantize_graph, quantize_input
from edge_deploy.slim.activation import activation_sites, calibrate_thresholds
from edge_deploy.slim.finetune import fine_tune
from edge_deploy.tflite import export_tflite
from edge_deploy.train.checkpoint import Checkpoint

torch.set_num_threads(1)
PARAMS = dict(input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1], paddings=[6, 1, 1],
              fc_units=16, input_dropout=None)
SPEC = {"data": None, "load_hp": [0], "window": 512, "stride": None, "fractions": [0.7, 0.1]}


def make_checkpoint(model, names, plan=None) -> Checkpoint:
    arch = {"name": "ticnn", "params": dict(PARAMS)}
    if plan is not None:
        arch["slim"] = {"activation": plan}
    return Checkpoint(arch=arch, members=[model], input={"channels": 1, "length": 512, "sample_rate_hz": 12000},
                      classes=names, data=dict(SPEC))


@pytest.fixture(scope="module")
def trained():
    x, y, names = load_windows(None, "train", window=512)
    model = build_model("ticnn", **PARAMS)
    fine_tune(model, x, y, epochs=2, lr=3e-3)
    model.eval()
    cal = x[::10]
    sites = activation_sites(model, torch.as_tensor(cal[:1]))
    rate = {s.node: (0.3 if i % 2 == 0 else 0.5) for i, s in enumerate(sites)}
    table = calibrate_thresholds(model, sites, sorted(set(rate.values())), cal)
    plan = {"mode": "threshold", "budget": 1.0, "base_accuracy": 0.0, "accuracy": 0.0, "sites": [
        {"node": s.node, "winner_rate": rate[s.node], "threshold": [table[(s.node, rate[s.node])]]} for s in sites]}
    return model, list(names), plan


def test_int8_threshold_keeps_exactly_the_values_above_it():
    rng = np.random.default_rng(0)
    for _ in range(200):
        quant = QuantParams([np.float32(rng.uniform(1e-3, 0.1))], [int(rng.integers(-128, 0))])
        threshold = float(rng.uniform(0.0, 2.0))
        t = int8_threshold(threshold, quant)
        q = np.arange(-128, 128, dtype=np.int8)
        above = dequantize(q, quant).astype(np.float64) > threshold
        keep = q >= t
        # Equal wherever t is representable; at the clamp only q = 127 may disagree.
        assert np.array_equal(keep[:-1], above[:-1])


def test_plan_lowers_thresholds_and_interpreter_applies_them(trained):
    model, names, plan = trained
    result = quantize_checkpoint(make_checkpoint(model, names, plan), None, count=64)
    graph = result.graph
    marked = [op for op in graph.ops if "act_threshold" in op.attrs]
    assert len(marked) == len(plan["sites"])
    assert all(isinstance(op.attrs["act_threshold"], int) for op in marked)
    assert sum("act_threshold" in row for row in result.report["layers"]) == len(marked)
    x = calibration_batch(make_checkpoint(model, names), None, count=32, seed=1)
    q = quantize_input(to_ir_layout(x), graph.tensor(graph.inputs[0]).quant)
    values = run_graph(graph, q, keep_all=True)
    zeroed = 0
    for op in marked:
        # Recompute the op without the threshold from its (thresholded) input, then threshold in numpy.
        params = kernel_params(graph, op)
        args = [values[op.inputs[0]]] + [graph.tensor(n).data for n in op.inputs[1:]]
        raw = get_op(op).run_int8(args, {**params, "rounding": "double"}).reshape(values[op.outputs[0]].shape)
        zp, t = graph.tensor(op.outputs[0]).zero_point, op.attrs["act_threshold"]
        expected = np.where(raw < t, zp, raw).astype(np.int8)
        assert np.array_equal(values[op.outputs[0]], expected)
        assert t > zp + 1
        zeroed += int(np.sum((raw != zp) & (expected == zp)))
    assert zeroed > 0


def test_float_graph_and_accuracy_follow_the_plan(trained):
    model, names, plan = trained
    checkpoint = make_checkpoint(model, names, plan)
    pruned = float_member(checkpoint)
    x = calibration_batch(checkpoint, None, count=16, seed=2)
    from edge_deploy.quantize.pipeline import lower_checkpoint

    float_graph = lower_checkpoint(checkpoint)
    with torch.no_grad():
        expected, unpruned = pruned(torch.from_numpy(x)).numpy(), model(torch.from_numpy(x)).numpy()
    got = run(float_graph, to_ir_layout(x))
    assert np.allclose(got, expected, atol=1e-4)
    assert not np.allclose(expected, unpruned, atol=1e-3)
    accuracy = compare_accuracy(checkpoint, quantize_checkpoint(checkpoint, None, count=64).graph)
    assert accuracy["agreement"] >= 0.9


def test_checkpoint_without_plan_is_unchanged(trained):
    model, names, plan = trained
    plain = quantize_checkpoint(make_checkpoint(model, names), None, count=64).graph
    assert not any("act_threshold" in op.attrs for op in plain.ops)
    x = calibration_batch(make_checkpoint(model, names), None, count=64)
    direct = quantize_graph(lower_module(model, (1, 1, 512), name="ticnn"), to_ir_layout(x))
    direct.metadata.update(plain.metadata)
    assert export_tflite(plain) == export_tflite(direct)
    unpruned = {**plan, "sites": [{**s, "winner_rate": 1.0} for s in plan["sites"]]}
    same = quantize_checkpoint(make_checkpoint(model, names, unpruned), None, count=64).graph
    assert export_tflite(same) == export_tflite(plain)


def test_topk_plan_and_unknown_node_are_refused(trained):
    model, names, plan = trained
    with pytest.raises(EdgeDeployError, match="topk"):
        quantize_checkpoint(make_checkpoint(model, names, {**plan, "mode": "topk"}), None, count=16)
    bad = {**plan, "sites": plan["sites"] + [{"node": "no_such_relu", "winner_rate": 0.5, "threshold": [0.1]}]}
    with pytest.raises(EdgeDeployError, match="no_such_relu"):
        quantize_checkpoint(make_checkpoint(model, names, bad), None, count=16)


def test_quantize_cli_says_the_tflite_lacks_the_thresholds(trained, tmp_path, capsys):
    from edge_deploy.cli import main
    from edge_deploy.train.checkpoint import save_checkpoint

    model, names, plan = trained
    save_checkpoint(tmp_path / "model.pt", make_checkpoint(model, names, plan))
    assert main(["quantize", str(tmp_path / "model.pt"), "--out", str(tmp_path / "m.tflite"), "--count", "32"]) == 0
    assert f"note: {len(plan['sites'])} activation-pruning thresholds" in capsys.readouterr().out
