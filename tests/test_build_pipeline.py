"""edge-deploy build from a pipeline YAML: train -> slim (Scalpel) -> quantize -> firmware, on the
bundled CWRU excerpt with a tiny TICNN (one epoch each), and a bad pipeline refused by key."""

from __future__ import annotations

import json

import pytest
import yaml

from edge_deploy.build.pipeline import load_pipeline
from edge_deploy.cli import main
from edge_deploy.errors import EdgeDeployError
from edge_deploy.tflite import load_tflite

PIPELINE = {
    "train": {
        "data": {"path": None, "load_hp": [0], "window": 2048, "stride": 1024, "fractions": [0.7, 0.1]},
        "model": {"name": "ticnn", "params": {"channels": [4, 8], "kernels": [64, 3], "strides": [8, 1],
                                              "paddings": [28, 1], "fc_units": 16}},
        "tricks": {"input_dropout": None, "batch_size": 32, "ensemble": 1, "noise_augmentation_snr_db": None},
        "training": {"epochs": 1, "lr": 0.003, "seed": 0},
        "evaluate": {"snr_db": []},
    },
    "slim": {"methods": ["scalpel"],
             "config": {"scalpel": {"group_size": 4, "sparsity": 0.5, "retrain_epochs": 1, "batch_size": 32},
                        "max_accuracy_loss": 100.0}},  # a 1-epoch model: no real budget
    "quantize": {"count": 64},
}


def test_pipeline_trains_slims_quantizes_and_builds(arm_gcc, tmp_path, capsys):
    import torch

    path = tmp_path / "tiny_pipeline.yaml"
    path.write_text(yaml.safe_dump(PIPELINE))
    out = tmp_path / "build"
    assert main(["build", str(path), "--board", "mps2-an386", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["details"]["kind"] == "pipeline" and report["details"]["slim_methods"] == ["scalpel"]
    assert [layer["op"] for layer in report["layers"]] == [
        "conv2d", "max_pool2d", "conv2d", "max_pool2d", "reshape", "fully_connected", "fully_connected"]
    assert report["layers"][2]["output_shape"] == [1, 1, 128, 8]
    slimmed = torch.load(out / "pipeline" / "slim" / "model.pt", weights_only=True)
    conv2 = slimmed["state_dicts"][0]["conv2.weight"]
    assert float((conv2 == 0).float().mean()) >= 0.4  # Scalpel zeroed about half of the weight groups
    assert json.loads((out / "pipeline" / "slim" / "slim.json").read_text())["methods"] == ["scalpel"]
    assert load_tflite(out / "model.tflite").tensor(report["input"]["name"]).shape == (1, 1, 2048, 1)


def test_a_bad_pipeline_is_refused_naming_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": "ticnn.yaml", "quantise": {"count": 3}}))
    with pytest.raises(EdgeDeployError, match="quantise: unknown key"):
        load_pipeline(path)
    path.write_text(yaml.safe_dump({"slim": {"methods": ["scalpel"]}}))
    with pytest.raises(EdgeDeployError, match="needs a 'train' section"):
        load_pipeline(path)
