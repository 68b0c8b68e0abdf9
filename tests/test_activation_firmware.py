"""Activation pruning in the firmware: a TICNN checkpoint with an activation plan built for
mps2-an386, its generated code thresholding after the kernels, and QEMU agreeing with the
reference interpreter (which applies the thresholds) on real windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edge_deploy.build.device_run import reference_outputs
from edge_deploy.cli import main
from edge_deploy.data import load_windows
from edge_deploy.interp.interpreter import run
from edge_deploy.models import build_model
from edge_deploy.quantize.pipeline import to_ir_layout
from edge_deploy.quantize.ptq import quantize_input
from edge_deploy.slim.activation import activation_sites, calibrate_thresholds
from edge_deploy.slim.finetune import fine_tune
from edge_deploy.tflite import load_tflite
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint

torch.set_num_threads(1)
PARAMS = dict(input_length=512, channels=[4, 8, 8], kernels=[16, 3, 3], strides=[4, 1, 1], paddings=[6, 1, 1],
              fc_units=16, input_dropout=None)


@pytest.fixture(scope="module")
def planned_checkpoint(tmp_path_factory):
    spec = {"data": None, "load_hp": [0], "window": 512, "stride": None, "fractions": [0.7, 0.1]}
    x, y, names = load_windows(None, "train", window=512)
    spec["labels"] = sorted(int(v) for v in np.unique(y))
    torch.manual_seed(0)
    model = build_model("ticnn", **PARAMS)
    fine_tune(model, x, y, epochs=1, lr=3e-3)
    model.eval()
    cal = x[::10]
    sites = activation_sites(model, torch.as_tensor(cal[:1]))
    # The last conv keeps 10 %: after its pool fc1's input is sparse enough for the skipping kernel.
    rates = {s.node: (0.1 if s.module == "relu3" else 0.4) for s in sites}
    table = calibrate_thresholds(model, sites, [0.1, 0.4], cal)
    plan = {"mode": "threshold", "budget": 1.0, "base_accuracy": 0.0, "accuracy": 0.0, "sites": [
        {"node": s.node, "winner_rate": rates[s.node], "threshold": [table[(s.node, rates[s.node])]],
         "density_after": rates[s.node]} for s in sites]}
    checkpoint = Checkpoint(arch={"name": "ticnn", "params": dict(PARAMS), "slim": {"activation": plan}},
                            members=[model], input={"channels": 1, "length": 512, "sample_rate_hz": 12000},
                            classes=list(names), data=spec)
    path = tmp_path_factory.mktemp("act") / "model.pt"
    save_checkpoint(path, checkpoint)
    return path, len(sites)


@pytest.mark.qemu
def test_planned_ticnn_runs_bit_exact_on_qemu(planned_checkpoint, qemu_arm, tmp_path):
    path, n_sites = planned_checkpoint
    out = tmp_path / "build"
    assert main(["build", str(path), "--board", "mps2-an386", "--out", str(out)]) == 0
    record = json.loads((out / "act_thresholds.json").read_text())["ops"]
    assert len(record) == n_sites
    model_c = (out / "src" / "model.c").read_text()
    assert model_c.count("    ed_threshold_s8(") == n_sites
    layers = json.loads((out / "report.json").read_text())["layers"]
    # fc1 reads the 10 % site, so the zero-skipping kernel applies to it and is priced (whether it
    # or the dense kernel wins is the cost model's call: test_activation_firmware_kernels runs it
    # on QEMU); any layer given it reads a sparse input, and the C calls it exactly then.
    fc1 = next(r for r in layers if r["name"] == "fc1")
    priced = {a["kernel"]: a for a in fc1["kernel_choice"]["alternatives"]}
    assert fc1["kernel"] == "ed_fully_connected_skip_zero_s8" or "cycles" in priced["ed_fully_connected_skip_zero_s8"]
    chosen = [r for r in layers if r["kernel"] == "ed_fully_connected_skip_zero_s8"]
    density = {r["name"]: r["kernel_choice"]["facts"]["input_density"] for r in chosen}
    assert all(d <= 0.5 for d in density.values()), density
    assert ("return ed_fully_connected_skip_zero_s8(" in model_c) == bool(chosen)
    x, _, _ = load_windows(None, "test", window=512)
    batch = x[:: max(1, len(x) // 6)][:6].astype(np.float32)
    inputs, outputs = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(inputs, batch)
    assert main(["run", str(out), "--inputs", str(inputs), "--out", str(outputs), "--check"]) == 0
    check = json.loads((out / "check.json").read_text())
    assert check["mismatches"] == 0 and check["n"] == len(batch)
    # The thresholds matter: without them the reference computes something else.
    graph = load_tflite(out / "model.tflite")
    q = quantize_input(to_ir_layout(batch), graph.tensor(graph.inputs[0]).quant)
    assert not np.array_equal(run(graph, q), reference_outputs(out, q))
    assert np.array_equal(np.load(outputs).reshape(len(batch), -1), reference_outputs(out, q).reshape(len(batch), -1))
