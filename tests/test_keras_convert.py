"""Keras / TensorFlow models through TensorFlow's converter (`quantize` and `build` of a .keras file
or a SavedModel folder), and the one error when TensorFlow is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.cli import main
from edge_deploy.tflite import load_tflite

INPUT = (12, 6, 1)   # a tiny DS-CNN: 12 frames x 6 features


def _without_tensorflow(*args: str, cwd) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter where `import tensorflow` fails as it does when the package is
    not installed (a None entry in sys.modules is Python's own marker for an absent module)."""
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "from edge_deploy.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ}, timeout=120, check=False)


def test_a_keras_model_without_tensorflow_is_one_error_naming_the_extra(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 not opened")   # the error comes before any read
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros((4, *INPUT), np.float32))
    for args in (["quantize", "model.keras", "--calib", "x.npy", "--out", "q.tflite"],
                 ["build", "saved", "--calib", "x.npy", "--board", "mps2-an386", "--out", "build"]):
        proc = _without_tensorflow(*args, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines[0].startswith("error: ") and "needs TensorFlow, which is not installed" in lines[0]
        assert lines[1] == 'hint: install the TensorFlow extra: pip install "edge-deploy[tensorflow]"'
        assert len(lines) == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "q.tflite").exists() and not (tmp_path / "build").exists()


def test_a_folder_that_is_no_saved_model_is_one_error(tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    assert main(["quantize", str(tmp_path / "folder"), "--out", str(tmp_path / "q.tflite")]) == 1
    assert main(["build", str(tmp_path / "folder"), "--board", "mps2-an386", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.count("is a folder but not a SavedModel (it holds no saved_model.pb)") == 2 and "Traceback" not in err
    assert not (tmp_path / "q.tflite").exists() and not (tmp_path / "b").exists()


# ---- with TensorFlow ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    pytest.importorskip("tensorflow", reason='TensorFlow is not installed (pip install "edge-deploy[tensorflow]")')
    from edge_deploy.testing.keras_models import dscnn

    folder = tmp_path_factory.mktemp("keras")
    model = dscnn(INPUT, classes=4, filters=8, blocks=1, first_kernel=(4, 3))
    model.save(folder / "model.keras")
    rng = np.random.default_rng(0)
    np.save(folder / "calib.npy", rng.normal(size=(32, *INPUT)).astype(np.float32))
    np.save(folder / "test.npy", rng.normal(size=(50, *INPUT)).astype(np.float32))
    return folder


def test_quantize_a_keras_model_int8_interface_agrees_with_keras(keras_model, tmp_path, capsys):
    import keras

    out = tmp_path / "model.tflite"
    assert main(["quantize", str(keras_model / "model.keras"), "--calib", str(keras_model / "calib.npy"),
                 "--out", str(out), "--report"]) == 0
    text = capsys.readouterr().out
    assert "int8 input and output" in text and "32 calibration samples" in text
    graph = load_tflite(out)
    assert [op.kind for op in graph.ops] == ["conv2d", "depthwise_conv2d", "conv2d", "avg_pool2d",
                                             "fully_connected", "softmax"]   # batch norms folded, Flatten static
    source, result = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    assert (source.dtype, result.dtype) == ("int8", "int8") and tuple(source.shape) == (1, *INPUT)
    report = json.loads((tmp_path / "model.tflite.report.json").read_text())
    assert report["agreement"]["inputs"] == 32 and report["agreement"]["agreement"] >= 0.95

    from edge_deploy.quantize.tf_convert import top1_agreement

    model = keras.models.load_model(keras_model / "model.keras")
    test = np.load(keras_model / "test.npy")
    agreement = top1_agreement(lambda x: model(x, training=False), graph, test)
    assert agreement["agreement"] >= 0.95 and agreement["max_abs_error"] < 0.05

    # The converter's .tflite as TFLite itself runs it: the reference interpreter (litert rounding)
    # against ai-edge-litert's reference kernels, output for output.
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the TFLite interpreter) is not installed")
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.ptq import quantize_input
    from edge_deploy.tflite.oracle import run_litert

    batch = quantize_input(test, source.quant)
    oracle = next(iter(run_litert(out.read_bytes(), batch).values()))
    np.testing.assert_array_equal(run(graph, batch, rounding="litert"), oracle)


def test_quantize_float_io_and_a_channels_first_batch(keras_model, tmp_path):
    calib = np.load(keras_model / "calib.npy")
    np.save(tmp_path / "nchw.npy", calib.transpose(0, 3, 1, 2))   # (N, C, H, W): the other batch layout
    out = tmp_path / "float_io.tflite"
    assert main(["quantize", str(keras_model / "model.keras"), "--calib", str(tmp_path / "nchw.npy"),
                 "--out", str(out), "--float-io"]) == 0
    graph = load_tflite(out)
    kinds = [op.kind for op in graph.ops]
    assert kinds[0] == "quantize" and kinds[-1] == "dequantize"
    assert graph.tensor(graph.inputs[0]).dtype == "float32" and graph.tensor(graph.outputs[0]).dtype == "float32"


def test_bad_calibration_and_unsupported_models_are_one_error(keras_model, tmp_path, capsys, monkeypatch):
    import keras
    from keras import layers

    model = str(keras_model / "model.keras")
    np.save(tmp_path / "int8.npy", np.zeros((4, *INPUT), np.int8))
    np.save(tmp_path / "shape.npy", np.zeros((4, 5, 6, 1), np.float32))
    # softplus converts (as EXP, LOG, ADD), but edge-deploy has no EXP kernel.
    inputs = keras.Input(INPUT)
    x = layers.Dense(3)(layers.Flatten()(layers.Activation("softplus")(layers.Conv2D(4, 3)(inputs))))
    keras.Model(inputs, x).save(tmp_path / "softplus.keras")
    free = keras.Input((None, 6, 1))
    keras.Model(free, layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(free))).save(tmp_path / "free.keras")
    cases = [
        ([model, "--out", "q.tflite"], "--calib X.npy is needed"),
        ([model, "--calib", str(tmp_path / "int8.npy"), "--out", "q.tflite"], "calibration batch is int8"),
        ([model, "--calib", str(tmp_path / "shape.npy"), "--out", "q.tflite"], "the model takes (N, 12, 6, 1)"),
        ([model, "--calib", str(keras_model / "calib.npy"), "--out", "q.tflite", "--method", "percentile"],
         "apply to model.pt checkpoints"),
        ([str(tmp_path / "softplus.keras"), "--calib", str(keras_model / "calib.npy"), "--out", "q.tflite"],
         "softplus.keras (converted): operator 1 is op EXP, which edge-deploy does not support"),
        ([str(tmp_path / "free.keras"), "--calib", str(keras_model / "calib.npy"), "--out", "q.tflite"],
         "unknown dimension"),
        ([str(tmp_path / "missing.keras"), "--calib", str(keras_model / "calib.npy"), "--out", "q.tflite"],
         "does not exist"),
    ]
    monkeypatch.chdir(tmp_path)
    for args, words in cases:
        assert main(["quantize", *args]) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "q.tflite").exists()


@pytest.mark.qemu
def test_a_saved_model_builds_and_runs_bit_exact_on_qemu(keras_model, tmp_path, qemu_arm, capsys):
    import keras

    saved = tmp_path / "saved_dscnn"
    keras.models.load_model(keras_model / "model.keras").export(saved)
    out = tmp_path / "build"
    assert main(["build", str(saved), "--calib", str(keras_model / "calib.npy"), "--board", "mps2-an386",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["details"] == {"kind": "tensorflow", "converter": "tensorflow", "calibration_samples": 32}
    assert [layer["op"] for layer in report["layers"]][:2] == ["conv2d", "depthwise_conv2d"]
    built = load_tflite(out / "model.tflite")
    assert built.tensor(built.inputs[0]).dtype == "int8"
    np.save(tmp_path / "x.npy", np.load(keras_model / "test.npy")[:8])
    assert main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"]) == 0
    check = json.loads((out / "check.json").read_text())
    assert check["n"] == 8 and check["mismatches"] == 0


@pytest.mark.qemu
def test_the_layers_docs_list_convert_and_run_bit_exact_on_qemu(keras_model, tmp_path, qemu_arm, capsys):
    """docs/models.md names the Keras layers that reach ops edge-deploy runs: one model of them all."""
    import keras
    from keras import layers

    from edge_deploy.quantize.tf_convert import top1_agreement
    from edge_deploy.testing.keras_models import randomize_batch_norms

    keras.utils.set_random_seed(0)
    inputs = keras.Input((10, 8, 3))
    x = layers.SeparableConv2D(8, 3, padding="same")(layers.ZeroPadding2D(((1, 0), (0, 1)))(inputs))
    x = layers.LeakyReLU(0.1)(layers.BatchNormalization()(x))
    gate, other = (layers.Conv2D(8, 1, activation=a)(x) for a in ("sigmoid", "tanh"))
    swish, relu6 = (layers.Conv2D(8, 1, activation=a)(x) for a in ("hard_swish", "relu6"))
    y = layers.Concatenate()([layers.Add()([layers.Multiply()([x, gate]), other]), swish, relu6])
    y = layers.GlobalAveragePooling2D()(layers.MaxPooling2D(2)(y))
    model = keras.Model(inputs, layers.Dense(5, activation="softmax")(y))
    randomize_batch_norms(model)
    model.save(tmp_path / "layers.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "calib.npy", rng.normal(size=(32, 10, 8, 3)).astype(np.float32))
    np.save(tmp_path / "x.npy", rng.normal(size=(8, 10, 8, 3)).astype(np.float32))

    out = tmp_path / "build"
    assert main(["build", str(tmp_path / "layers.keras"), "--calib", str(tmp_path / "calib.npy"),
                 "--board", "mps2-an386", "--out", str(out)]) == 0, capsys.readouterr().err
    graph = load_tflite(out / "model.tflite")
    assert {"pad", "depthwise_conv2d", "leaky_relu", "logistic", "tanh", "hard_swish", "mul", "add",
            "concatenation", "max_pool2d", "mean", "fully_connected", "softmax"} <= {op.kind for op in graph.ops}
    agreement = top1_agreement(lambda x: model(x, training=False), graph, np.load(tmp_path / "x.npy"))
    assert agreement["agreement"] >= 7 / 8 and agreement["max_abs_error"] < 0.05
    assert main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"]) == 0
    check = json.loads((out / "check.json").read_text())
    assert check["n"] == 8 and check["mismatches"] == 0
