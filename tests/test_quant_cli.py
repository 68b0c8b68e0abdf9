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


def test_every_command_takes_both_batch_layouts_and_float32(checkpoint_path, tmp_path, capsys):
    """One batch-file convention: the checkpoint's (N, 1, 2048) or the IR's (N, 1, 2048, 1); int8 as
    is, float32 quantized with the input's scale and zero point; the same for --calib (float)."""
    from edge_deploy.build.device_run import load_input_batch
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_input

    model = tmp_path / "m.tflite"
    assert main(["quantize", str(checkpoint_path), "--out", str(model)]) == 0
    graph = load_tflite(model)
    ir = np.random.default_rng(1).integers(-128, 128, (4, 1, 2048, 1)).astype(np.int8)
    np.save(tmp_path / "ir.npy", ir)
    np.save(tmp_path / "torch.npy", np.ascontiguousarray(ir[:, 0].transpose(0, 2, 1)))  # (4, 1, 2048)
    assert main(["infer", str(model), "--inputs", str(tmp_path / "ir.npy"), "--out", str(tmp_path / "a.npy")]) == 0
    assert main(["infer", str(checkpoint_path), "--inputs", str(tmp_path / "torch.npy"), "--out", str(tmp_path / "b.npy")]) == 0
    assert main(["infer", str(model), "--inputs", str(tmp_path / "torch.npy"), "--out", str(tmp_path / "c.npy")]) == 0
    a = np.load(tmp_path / "a.npy")
    assert np.array_equal(a, np.load(tmp_path / "b.npy")) and np.array_equal(a, np.load(tmp_path / "c.npy"))
    assert np.array_equal(a, run(graph, ir))

    x = np.random.default_rng(2).standard_normal((3, 1, 2048)).astype(np.float32)
    np.save(tmp_path / "xf.npy", x)
    capsys.readouterr()
    assert main(["infer", str(checkpoint_path), "--inputs", str(tmp_path / "xf.npy"), "--out", str(tmp_path / "f.npy")]) == 0
    assert "quantized with the model input's scale" in capsys.readouterr().err
    expected = run(graph, quantize_input(to_ir_layout(x), graph.tensor(graph.inputs[0]).quant))
    assert np.array_equal(np.load(tmp_path / "f.npy"), expected)
    # `run` reads batch files through the same helper.
    spec = {"shape": [1, 1, 2048, 1], "scale": float(graph.tensor(graph.inputs[0]).scale),
            "zero_point": int(graph.tensor(graph.inputs[0]).zero_point)}
    assert np.array_equal(load_input_batch(tmp_path / "torch.npy", {"input": spec}), ir)

    np.save(tmp_path / "calib_ir.npy", to_ir_layout(x))
    np.save(tmp_path / "calib_torch.npy", x)
    for name in ("calib_ir", "calib_torch"):
        assert main(["quantize", str(checkpoint_path), "--calib", str(tmp_path / f"{name}.npy"),
                     "--out", str(tmp_path / f"{name}.tflite")]) == 0
    assert (tmp_path / "calib_ir.tflite").read_bytes() == (tmp_path / "calib_torch.tflite").read_bytes()
