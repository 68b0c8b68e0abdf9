"""edge-deploy demo: the bundled pipeline end to end (one epoch, a few test windows) on the real
toolchain and QEMU; its summary against the files the stages wrote; the pipeline file it writes;
refusals before any work; a mismatch with the reference turns into a non-zero exit."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_deploy.build.pipeline import load_pipeline
from edge_deploy.cli import main
from edge_deploy.demo import default_pipeline_path, demo_pipeline
from edge_deploy.errors import EdgeDeployError

WINDOWS = 12


def _default_without_loss_gate(tmp_path: Path) -> Path:
    """The bundled pipeline, but with slimming's accuracy-loss guard open: after one epoch of
    training the model is too rough for a guard tuned for the full run to mean anything."""
    raw = yaml.safe_load(default_pipeline_path().read_text())
    raw["slim"]["config"]["max_accuracy_loss"] = 100.0  # always on: a number no result exceeds
    path = tmp_path / "pipeline_ticnn.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory, qemu_arm):
    root = tmp_path_factory.mktemp("demo")
    pipeline = _default_without_loss_gate(root)
    out = root / "out"
    stdout = io.StringIO()  # capsys is per test; the module-scoped run captures by hand
    with contextlib.redirect_stdout(stdout):
        code = main(["demo", str(pipeline), "--out", str(out), "--epochs", "1", "--max-windows", str(WINDOWS)])
    return code, out, stdout.getvalue()


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_demo_passes_with_no_mismatch_on_real_test_windows(demo):
    code, out, text = demo
    assert code == 0, text
    summary = _json(out / "summary.json")
    check = _json(out / "build" / "check.json")
    assert summary["passed"] is True
    assert check["n"] == WINDOWS and check["mismatches"] == 0 and check["mismatched_elements"] == 0
    assert summary["check"] == {key: check[key] for key in summary["check"]}
    windows = np.load(out / "test_windows.npy")
    report = _json(out / "build" / "report.json")
    assert windows.dtype == np.int8 and windows.shape == (WINDOWS, *report["input"]["shape"][1:])
    assert "0 mismatches with the reference over 12 outputs" in text


def test_accuracies_are_in_range_and_agree_with_an_independent_reference_run(demo):
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.pipeline import load_split
    from edge_deploy.tflite import load_tflite
    from edge_deploy.train.checkpoint import load_checkpoint

    _, out, _ = demo
    accuracy = _json(out / "summary.json")["accuracy"]
    assert accuracy["windows"] == WINDOWS and accuracy["windows_in_split"] > WINDOWS
    for key in ("float", "int8_reference", "on_target"):
        assert 0.0 <= accuracy[key] <= 1.0
    # 0 mismatches means the firmware predicted exactly what the reference did.
    assert accuracy["on_target"] == accuracy["int8_reference"]
    # Recompute the int8 accuracy from the saved windows, the built model and the split's labels.
    checkpoint = load_checkpoint(out / "build" / "pipeline" / "slim" / "model.pt")
    _, labels = load_split(checkpoint, None, "test")
    picks = np.unique(np.linspace(0, len(labels) - 1, WINDOWS).round().astype(np.int64))
    outputs = run(load_tflite(out / "build" / "model.tflite"), np.load(out / "test_windows.npy"), rounding="double")
    predicted = outputs.reshape(WINDOWS, -1).argmax(axis=1)
    assert accuracy["int8_reference"] == pytest.approx(float(np.mean(predicted == labels[picks])))


def test_summary_figures_are_those_of_report_and_profile(demo):
    _, out, text = demo
    summary = _json(out / "summary.json")
    report = _json(out / "build" / "report.json")
    profile = _json(out / "build" / "profile.json")
    memory = summary["memory"]
    for key in ("flash_bytes", "ram_bytes", "arena_bytes", "arena_lower_bound_bytes", "weights_bytes"):
        assert memory[key] == report[key], key
    assert memory["arena_bytes"] >= memory["arena_lower_bound_bytes"] > 0
    prof = summary["profile"]
    for key in ("source", "instructions", "cycles", "macs", "mac_per_cycle", "latency_ms"):
        assert prof[key] == profile[key], key
    assert [(layer["name"], layer["cycles"], layer["instructions"]) for layer in prof["layers"]] == \
        [(layer["name"], layer["cycles"], layer["instructions"]) for layer in profile["layers"]]
    assert sum(layer["cycles"] for layer in prof["layers"]) == prof["cycles"]
    assert prof["latency_ms"] == pytest.approx(prof["cycles"] / 25e6 * 1e3, abs=1e-3)
    assert prof["latency_ms_reference_clock"] == pytest.approx(prof["cycles"] / 168e6 * 1e3, abs=1e-3)
    model = summary["model"]
    slim = _json(out / "build" / "pipeline" / "slim" / "slim.json")
    assert (model["params_before"], model["params_after"]) == (slim["params_before"], slim["params_after"])
    assert model["params_after"] < model["params_before"] and model["macs_after"] < model["macs_before"]
    assert model["int8_macs"] == report["macs"] == profile["macs"]
    # The printed table carries the same numbers.
    assert f"{prof['cycles']:,}" in text and f"{report['flash_bytes']:,} B" in text
    for layer in prof["layers"]:
        assert f"{layer['cycles']:,}" in text


def test_the_pipeline_it_ran_is_self_contained_with_the_epochs_applied(demo):
    _, out, _ = demo
    written = out / "pipeline_ticnn.yaml"
    pipeline = load_pipeline(written)
    assert pipeline.train["training"]["epochs"] == 1
    slimming = pipeline.slim.config["slimming"]
    assert slimming["sparsity_epochs"] == 1 and slimming["finetune_epochs"] == 1
    assert set(pipeline.slim.config) >= {"slimming", "max_accuracy_loss"} and "scalpel" not in pipeline.slim.config
    assert _json(out / "build" / "report.json")["details"]["kind"] == "pipeline"


def test_the_bundled_default_is_the_examples_file_and_valid():
    path = default_pipeline_path()
    # One source of truth: an editable install points at the examples file, a wheel carries a copy.
    examples_file = Path(__file__).resolve().parent.parent / "examples" / "pipeline_ticnn.yaml"
    assert path.read_bytes() == examples_file.read_bytes()
    pipeline = load_pipeline(path)
    assert isinstance(pipeline.train, dict), "the default must not depend on other files (it ships alone)"
    assert pipeline.slim is not None and pipeline.slim.methods
    assert pipeline.train["data"]["path"] is None  # the bundled excerpt


def test_file_references_are_inlined_and_relative_paths_resolved(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "train.yaml").write_text(yaml.safe_dump(
        {"data": {"path": "records"}, "training": {"epochs": 9}}))
    (tmp_path / "cfg" / "slim.yaml").write_text(yaml.safe_dump({"scalpel": {"retrain_epochs": 5, "sparsity": 0.5}}))
    pipeline = tmp_path / "cfg" / "p.yaml"
    pipeline.write_text(yaml.safe_dump({"train": "train.yaml", "slim": {"methods": ["scalpel"], "config": "slim.yaml"},
                                        "quantize": {"calib": "calib.npy"}}))
    raw = demo_pipeline(pipeline, epochs=3)
    assert raw["train"]["data"]["path"] == str(tmp_path / "cfg" / "records")
    assert raw["train"]["training"]["epochs"] == 3
    assert raw["slim"]["config"]["scalpel"]["retrain_epochs"] == 3 and raw["slim"]["config"]["scalpel"]["sparsity"] == 0.5
    assert raw["quantize"]["calib"] == str(tmp_path / "cfg" / "calib.npy")
    assert demo_pipeline(pipeline)["slim"]["config"]["scalpel"]["retrain_epochs"] == 5
    with pytest.raises(EdgeDeployError, match="--epochs 0"):
        demo_pipeline(pipeline, epochs=0)


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["demo", "--out", str(out), "--epochs", "1"]) == 1
    assert "notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_bad_pipeline_fails_before_any_stage(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": {"training": {"epochs": 1}}, "quantise": {}}))
    assert main(["demo", str(path), "--out", str(tmp_path / "out")]) == 1
    assert "quantise: unknown key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


TINY = {
    "train": {
        "data": {"path": None, "load_hp": [0], "window": 2048, "stride": 1024, "fractions": [0.7, 0.1]},
        "model": {"name": "ticnn", "params": {"channels": [4, 8], "kernels": [64, 3], "strides": [8, 1],
                                              "paddings": [28, 1], "fc_units": 16}},
        "tricks": {"input_dropout": None, "batch_size": 32, "ensemble": 1, "noise_augmentation_snr_db": None},
        "training": {"epochs": 1, "lr": 0.003, "seed": 0},
        "evaluate": {"snr_db": []},
    },
    "quantize": {"count": 32},
}


def test_a_mismatch_with_the_reference_fails_the_demo(tmp_path, qemu_arm, monkeypatch, capsys):
    # FAKE, named as such: the generated firmware is bit-exact, so a disagreement cannot be caused
    # for real; the reference's outputs are shifted by one to stand in for a broken kernel.
    import edge_deploy.build.device_run as device_run

    real_reference = device_run.reference_outputs
    monkeypatch.setattr(device_run, "reference_outputs",
                        lambda build_dir, batch: (real_reference(build_dir, batch).astype(np.int16) + 1).clip(-128, 127)
                        .astype(np.int8))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    assert main(["demo", str(path), "--out", str(out), "--max-windows", "3"]) == 1
    captured = capsys.readouterr()
    assert "differ from the reference interpreter on 3 of 3 test windows" in captured.err
    assert "FAILED" in captured.out
    summary = _json(out / "summary.json")
    assert summary["passed"] is False and summary["check"]["mismatches"] == 3
    assert summary["model"]["slim_methods"] == [] and summary["model"]["params_before"] == summary["model"]["params_after"]
