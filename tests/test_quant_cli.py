"""The quantize / infer commands on a real (small, freshly trained) TICNN checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_deploy.cli import main
from edge_deploy.interp.interpreter import run
from edge_deploy.models import build_model
from edge_deploy.tflite import load_tflite
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    """A small TICNN, briefly trained on the bundled excerpt (no network, a few seconds)."""
    from edge_deploy.data import load_windows

    torch.manual_seed(0)
    params = {"channels": [8, 16, 16], "kernels": [64, 3, 3], "strides": [8, 1, 1], "paddings": [28, 1, 1],
              "fc_units": 32, "input_length": 2048, "n_classes": 10, "input_dropout": None}
    model = build_model("ticnn", **params)
    spec = {"data": None, "load_hp": [0], "window": 2048, "stride": 512, "fractions": [0.7, 0.1]}
    x, y, names = load_windows(split="train", **spec)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    model.train()
    for _ in range(3):
        for start in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[start:start + 32])), torch.from_numpy(y[start:start + 32]))
            loss.backward()
            optimizer.step()
    model.eval()
    spec["labels"] = sorted(int(v) for v in np.unique(y))
    ck = Checkpoint(arch={"name": "ticnn", "params": params}, members=[model],
                    input={"channels": 1, "length": 2048, "sample_rate_hz": 12000}, classes=names, data=spec)
    path = tmp_path_factory.mktemp("ck") / "model.pt"
    save_checkpoint(path, ck)
    return path


def test_quantize_writes_a_tflite_and_reports(checkpoint_path, tmp_path, capsys):
    out = tmp_path / "m.tflite"
    assert main(["quantize", str(checkpoint_path), "--out", str(out), "--report", "--count", "64"]) == 0
    text = capsys.readouterr().out
    graph = load_tflite(out)
    assert [op.kind for op in graph.ops][:2] == ["conv2d", "max_pool2d"]
    assert graph.tensor(graph.inputs[0]).shape == (1, 1, 2048, 1)
    assert "conv1" in text and "float" in text and "int8" in text
    report = __import__("json").loads((tmp_path / "m.tflite.report.json").read_text())
    acc = report["accuracy"]
    assert acc["windows"] > 0 and abs(acc["float_accuracy"] - acc["int8_accuracy"]) <= 0.05


def test_infer_runs_the_reference_interpreter(checkpoint_path, tmp_path, capsys):
    model = tmp_path / "m.tflite"
    assert main(["quantize", str(checkpoint_path), "--out", str(model), "--count", "32"]) == 0
    graph = load_tflite(model)
    batch = np.random.default_rng(0).integers(-128, 128, (5, 1, 2048, 1)).astype(np.int8)
    np.save(tmp_path / "x.npy", batch)
    assert main(["infer", str(model), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (5, 10) and y.dtype == np.int8
    assert np.array_equal(y, run(graph, batch))
    # A checkpoint works as MODEL too (quantized on the fly with the same calibration).
    assert main(["infer", str(checkpoint_path), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y2.npy")]) == 0
    assert np.load(tmp_path / "y2.npy").shape == (5, 10)


def test_infer_rejects_a_badly_shaped_batch(checkpoint_path, tmp_path, capsys):
    model = tmp_path / "m.tflite"
    main(["quantize", str(checkpoint_path), "--out", str(model), "--count", "32"])
    np.save(tmp_path / "x.npy", np.zeros((3, 2048), dtype=np.int8))
    assert main(["infer", str(model), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "(N, 1, 2048, 1)" in err and not (tmp_path / "y.npy").exists()
