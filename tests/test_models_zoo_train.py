"""Training zoo models on the user's own data: a folder of PNG images (DIR/<class>/*.png, written
here with Pillow) and scikit-learn's digits. A tiny DS-CNN and MobileNetV1 trained on images go
through `edge-deploy build` (calibrated on the checkpoint's own images) to firmware for
mps2-an386 and run on QEMU with 0 mismatches against the reference interpreter; so does an ANTNet,
whose attention gates run as a sigmoid table and a map-by-gate multiply."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from edge_deploy.cli import main
from edge_deploy.data import load_images, load_split
from edge_deploy.errors import EdgeDeployError
from edge_deploy.train.checkpoint import load_checkpoint

torch.set_num_threads(1)


def _image_folder(root: Path, per_class: int = 12, size: int = 12) -> Path:
    """Three classes of grayscale PNGs: a horizontal bar, a vertical bar, a diagonal, each at a
    random place with noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("diagonal", "horizontal", "vertical"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.uniform(0, 60, size=(size, size))
            k = int(rng.integers(2, size - 2))
            if name == "horizontal":
                img[k - 1:k + 1, :] = 255
            elif name == "vertical":
                img[:, k - 1:k + 1] = 255
            else:
                img[np.arange(size), np.arange(size)] = 255
            Image.fromarray(img.astype(np.uint8), mode="L").save(root / name / f"{i:02d}.png")
    return root


def _config(root: Path, model: str, params: dict, size: list[int], channels: int = 1) -> dict:
    return {
        "data": {"kind": "images", "path": str(root), "size": size, "channels": channels, "fractions": [0.6, 0.2]},
        "model": {"name": model, "params": params},
        "tricks": {"input_dropout": None, "batch_size": 8},
        "training": {"epochs": 2, "lr": 0.01, "patience": None, "threads": 1},
        "evaluate": {"snr_db": [10]},
    }


def test_image_folder_splits_are_disjoint_stratified_and_resized(tmp_path):
    root = _image_folder(tmp_path / "shapes")
    parts = {s: load_images(root, s, size=(16, 20)) for s in ("train", "val", "test", "all")}
    x, y, names = parts["all"]
    assert names == ["diagonal", "horizontal", "vertical"] and x.shape == (36, 1, 16, 20)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert [len(parts[s][1]) for s in ("train", "val", "test")] == [24, 6, 6]  # 8 / 2 / 2 of each class
    assert all(np.bincount(parts[s][1]).tolist() == [n] * 3 for s, n in (("train", 8), ("val", 2), ("test", 2)))
    rows = {s: {p.tobytes() for p in parts[s][0]} for s in ("train", "val", "test")}
    assert not (rows["train"] & rows["test"]) and not (rows["train"] & rows["val"]) and not (rows["val"] & rows["test"])
    rgb = load_images(root, "test", size=(8, 8), channels=3)[0]
    assert rgb.shape == (6, 3, 8, 8) and np.array_equal(rgb[:, 0], rgb[:, 2])  # gray copied to R, G, B


def test_image_folder_errors_name_the_fix(tmp_path):
    (tmp_path / "one" / "cat").mkdir(parents=True)
    from PIL import Image

    Image.new("L", (4, 4)).save(tmp_path / "one" / "cat" / "a.png")
    with pytest.raises(EdgeDeployError, match="a classifier needs at least 2") as info:
        load_images(tmp_path / "one", "train", size=(8, 8))
    assert "DIR/<class name>/<image>.png" in info.value.hint
    (tmp_path / "one" / "dog").mkdir()
    (tmp_path / "one" / "dog" / "b.png").write_bytes(b"not a png")
    with pytest.raises(EdgeDeployError, match="b.png: cannot read the image"):
        load_images(tmp_path / "one", "train", size=(8, 8))
    with pytest.raises(EdgeDeployError, match="not an image input"):
        load_images(None, "train", size=(8, 8), channels=2)


def test_digits_example_loads_upsampled_and_split():
    pytest.importorskip("sklearn", reason="scikit-learn (the digits example) is not installed")
    x, y, names = load_split({"kind": "images", "size": [16, 16], "channels": 1}, "test")
    assert names == [str(d) for d in range(10)] and x.shape[1:] == (1, 16, 16)
    assert 340 < len(y) < 380 and set(np.unique(y)) == set(range(10))  # 20 % of 1,797
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0


def test_train_config_refuses_window_options_for_images(tmp_path, capsys):
    root = _image_folder(tmp_path / "shapes", per_class=4)
    path = tmp_path / "bad.yaml"
    for model, key, value, words in (
            ("antnet", "noise_augmentation_snr_db", [0, 10], "noise_augmentation_snr_db applies to signal windows"),
            ("antnet", "input_dropout", [0.1, 0.5], "has no input dropout"),
            ("ticnn", "input_dropout", None, "TICNN takes (channels, length) windows")):
        raw = _config(root, model, {}, [16, 16])
        raw["tricks"][key] = value
        path.write_text(yaml.safe_dump(raw))
        assert main(["train", str(path), "--out", str(tmp_path / "out")]) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    assert not (tmp_path / "out" / "model.pt").exists()


@pytest.mark.qemu
@pytest.mark.parametrize(("model", "params", "size", "channels"), [
    ("dscnn", {"channels": [8, 8, 8], "first_kernel": [4, 3], "dropout": [0.0, 0.0]}, [16, 12], 1),
    ("mobilenet_v1", {"channels": [4, 8, 8], "strides": [2, 2, 1]}, [15, 15], 3),
    ("antnet", {"stem": 8, "channels": [8, 12], "strides": [1, 2], "expansion": 2, "head": 16}, [12, 12], 1),
])
def test_zoo_model_trained_on_an_image_folder_builds_and_runs_bit_exact(
        model, params, size, channels, tmp_path, qemu_arm, capsys):
    root = _image_folder(tmp_path / "shapes")
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(_config(root, model, params, size, channels)))
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--quiet"]) == 0
    assert "on 6 images" in capsys.readouterr().out
    checkpoint = load_checkpoint(run / "model.pt")
    assert checkpoint.input_shape == (channels, *size) and checkpoint.data["kind"] == "images"
    assert checkpoint.classes == ["diagonal", "horizontal", "vertical"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_snr"]) == {"10"} and len(metrics["confusion"]) == 3
    assert (run / "training_curves.png").is_file() and (run / "confusion.png").is_file()

    out = tmp_path / "build"
    assert main(["build", str(run / "model.pt"), "--board", "mps2-an386", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    kinds = [layer["op"] for layer in report["layers"]]
    assert "depthwise_conv2d" in kinds and "pad" not in kinds  # TensorFlow's SAME pads folded into the convs
    if model == "antnet":  # the attention gate: a sigmoid table, a map x gate multiply
        gates = [layer for layer in report["layers"] if layer["op"] in ("logistic", "mul")]
        assert [(g["op"], g["kernel"]) for g in gates] == [
            ("logistic", "ed_lut_s8"), ("mul", "ed_elementwise_mul_s8")] * 2
    x, _, _ = load_images(root, "test", size=size, channels=channels)
    np.save(tmp_path / "x.npy", x[:3])
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    check = json.loads((out / "check.json").read_text())
    assert check["n"] == 3 and check["mismatches"] == 0


def test_antnet_trained_on_images_slims_through_the_cli(tmp_path, capsys):
    root = _image_folder(tmp_path / "shapes")
    params = {"stem": 8, "channels": [8, 12, 12], "strides": [1, 2, 1], "expansion": 2, "head": 16}
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(_config(root, "antnet", params, [12, 12])))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "model.pt"), "--snr", "0"]) == 0
    shown = capsys.readouterr().out
    assert f"{root}, split test, 6 images" in shown and "HP" not in shown and "0 dB" in shown
    out = tmp_path / "slim"
    assert main(["slim", str(tmp_path / "run" / "model.pt"), "-m", "slimming", "--ratio", "0.5", "--channel-multiple", "1",
                 "--epochs", "0.5", "--max-loss", "100", "--out", str(out)]) == 0, capsys.readouterr().err
    report = json.loads((out / "slim.json").read_text())
    assert report["macs_after"] < 0.75 * report["macs_before"]
    slim = load_checkpoint(out / "model.pt")
    blocks = [m for name, m in slim.model.named_children() if name.startswith("block")]
    # Rebuilt from its params: the residual pair (stem, block1) kept one width, each gate its block's.
    assert slim.arch["params"]["stem"] == blocks[0].project.conv.out_channels == blocks[1].expand.conv.in_channels
    assert all(b.attention.fc2.out_channels == b.expand.conv.out_channels == b.depthwise.conv.out_channels
               for b in blocks)
    assert sum(slim.arch["params"]["hidden"]) < sum(2 * c for c in [8, 8, 12])
    x, y, _ = load_split(slim.data, "test")
    assert slim.model.eval()(torch.from_numpy(x)).shape == (len(y), 3)
