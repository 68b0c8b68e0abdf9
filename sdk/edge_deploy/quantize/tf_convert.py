"""Keras / TensorFlow -> int8 ``.tflite`` through TensorFlow's own converter.

A ``.keras`` file (``model.save("model.keras")``) or a SavedModel folder (``tf.saved_model.save`` /
``model.export``) is converted by ``tf.lite.TFLiteConverter`` with full-integer quantization: the
representative dataset is the float calibration batch (the batch-file convention: N samples shaped
like the model input, the Keras NHWC layout or the channels-first one), every op int8
(``TFLITE_BUILTINS_INT8``), and an int8 input and output unless ``float_io`` keeps them float32
(the ``.tflite`` then quantizes its own input with a QUANTIZE and dequantizes its output).

TensorFlow is an optional extra (``pip install "edge-deploy[tensorflow]"``); it is imported only
here and only when such a model is given. Without it, :func:`require_tensorflow` raises one error
saying how to install it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError

INSTALL_HINT = 'install the TensorFlow extra: pip install "edge-deploy[tensorflow]"'
KERAS_SUFFIX = ".keras"
SAVED_MODEL_FILE = "saved_model.pb"


def is_tensorflow_model(path: str | os.PathLike) -> bool:
    """True for a ``.keras`` file or a folder holding a SavedModel (``saved_model.pb``)."""
    path = Path(path)
    if path.is_dir():
        return (path / SAVED_MODEL_FILE).is_file()
    return path.suffix.lower() == KERAS_SUFFIX


def require_tensorflow(model: str | os.PathLike):
    """The ``tensorflow`` module. Raises EdgeDeployError naming ``model`` and the extra to install
    when TensorFlow cannot be imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # the converter's C++ log is not ours to print
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise EdgeDeployError(f"{model} is a Keras / TensorFlow model and converting it needs TensorFlow, "
                              f"which is not installed ({exc})", INSTALL_HINT) from None
    return tf


@dataclass
class TensorflowConversion:
    """A converted model: the int8 ``.tflite`` bytes, the float model's input sample shape (NHWC,
    no batch axis), the calibration samples used (IR layout) and the float model itself (a
    callable on a float batch, for comparisons)."""

    tflite: bytes
    input_shape: tuple[int, ...]
    calibration: np.ndarray
    float_model: Any


def _load(path: Path, tf):
    """``(function of a float tensor batch, input sample shape)`` of a .keras file or a SavedModel
    folder."""
    try:
        if path.is_dir():
            loaded = tf.saved_model.load(str(path))
            signature = loaded.signatures.get("serving_default")
            if signature is None:
                raise EdgeDeployError(f"SavedModel {path} has no 'serving_default' signature",
                                      "export it with model.export(DIR) or save it with a serving signature")
            specs = signature.structured_input_signature[1]
            if len(specs) != 1:
                raise EdgeDeployError(f"SavedModel {path} takes {len(specs)} inputs; edge-deploy builds models with one",
                                      "export a model with a single input")
            (key, spec), = specs.items()

            def call(x, signature=signature, key=key, owner=loaded):   # owner keeps the variables alive
                return next(iter(signature(**{key: x}).values()))

            return call, tuple(spec.shape)[1:]
        import keras

        model = keras.models.load_model(str(path), compile=False)
    except EdgeDeployError:
        raise
    except Exception as exc:   # TensorFlow and Keras raise many kinds; all mean "unreadable here"
        raise EdgeDeployError(f"cannot load {path}: {_last_line(exc)}",
                              "pass a model saved with model.save('model.keras') or a SavedModel folder") from None
    if len(model.inputs) != 1:
        raise EdgeDeployError(f"{path} takes {len(model.inputs)} inputs; edge-deploy builds models with one",
                              "save a model with a single input")
    return (lambda x: model(x, training=False)), tuple(model.inputs[0].shape)[1:]


@contextlib.contextmanager
def _quiet():
    """Send what is written to file descriptors 1 and 2 (the converter's C++ log and absl warnings
    print there, whatever the log level) to a temporary file, restored on exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def calibration_samples(calib: str | os.PathLike | np.ndarray | None, input_shape: tuple[int, ...],
                        count: int = 256, seed: int = 0) -> np.ndarray:
    """Float32 calibration samples ``(N, *input_shape)`` from a batch file in either layout, at
    most ``count`` of them (drawn seeded, in order). Raises EdgeDeployError without ``calib``, for
    a non-float batch, a shape that fits neither layout, no sample or a NaN / infinity."""
    from edge_deploy.quantize.batchfile import check_samples, read_batch, to_ir_batch

    if calib is None or (not isinstance(calib, np.ndarray) and not str(calib).endswith(".npy")):
        raise EdgeDeployError("a Keras / TensorFlow model is calibrated on a float batch file: --calib X.npy is needed",
                              "save N float32 samples shaped like the model input with numpy.save and pass --calib X.npy")
    if any(d is None for d in input_shape):
        raise EdgeDeployError(f"the model input has an unknown dimension {input_shape}; int8 firmware needs fixed shapes",
                              "give the model's Input a fixed shape besides the batch dimension")
    x = read_batch(calib, "calibration batch")
    if not np.issubdtype(x.dtype, np.floating):
        raise EdgeDeployError(f"calibration batch is {x.dtype}; calibration needs float samples",
                              "save the float32 samples, before any quantization")
    x = check_samples(to_ir_batch(x, tuple(int(d) for d in input_shape), what="calibration batch"), "calibration batch")
    if len(x) > count:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), count, replace=False))]
    return np.ascontiguousarray(x, dtype=np.float32)


def convert_tensorflow(model: str | os.PathLike, calib: str | os.PathLike | np.ndarray | None, *,
                       float_io: bool = False, count: int = 256) -> TensorflowConversion:
    """Convert a ``.keras`` file or SavedModel folder to a full-integer ``.tflite`` calibrated on
    ``calib`` (at most ``count`` samples); int8 input and output, or float32 ones with
    ``float_io``. Raises EdgeDeployError without TensorFlow, for an unreadable model, a bad
    calibration batch, or a model the converter cannot quantize fully to int8 (its message)."""
    path = Path(model)
    if not path.exists():
        raise EdgeDeployError(f"model {path} does not exist", "pass a .keras file or a SavedModel folder")
    tf = require_tensorflow(path)
    call, input_shape = _load(path, tf)
    x = calibration_samples(calib, input_shape, count)

    def representative():
        for sample in x:
            yield [sample[None]]

    try:
        with _quiet():
            # Traced at batch 1, the firmware's batch: shapes are static, so a Flatten is one RESHAPE
            # rather than SHAPE / STRIDED_SLICE / PACK computing the batch size at run time.
            traced = tf.function(call).get_concrete_function(tf.TensorSpec((1, *input_shape), tf.float32))
            converter = tf.lite.TFLiteConverter.from_concrete_functions([traced])   # frozen: variables become constants
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if not float_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
            data = converter.convert()
    except Exception as exc:   # ConverterError and friends: the converter's own words are the message
        raise EdgeDeployError(f"TensorFlow's converter could not quantize {path} to int8: {_last_line(exc)}",
                              "every op must have an int8 TFLite builtin kernel; replace the layer it names") from None
    return TensorflowConversion(tflite=bytes(data), input_shape=tuple(int(d) for d in input_shape),
                                calibration=x, float_model=lambda batch: np.asarray(call(tf.constant(batch))))


def graph_outputs(graph, x: np.ndarray, rounding: str = "double") -> np.ndarray:
    """Real-valued outputs of an imported ``.tflite`` graph (reference interpreter) on a float
    batch in the model's layout: quantized with the input's scale when the interface is int8,
    fed as is when it is float32; an int8 output is dequantized."""
    from edge_deploy.interp.interpreter import run
    from edge_deploy.quantize.ptq import dequantize, quantize_input

    x = np.asarray(x, dtype=np.float32)
    source = graph.tensor(graph.inputs[0])
    y = run(graph, quantize_input(x, source.quant) if source.dtype == "int8" else x, rounding=rounding)
    out = graph.tensor(graph.outputs[0])
    return dequantize(y, out.quant) if out.dtype == "int8" else np.asarray(y, dtype=np.float32)


def top1_agreement(float_model, graph, x: np.ndarray, batch: int = 100) -> dict[str, Any]:
    """How often the float model and the int8 graph (reference interpreter) pick the same class
    on ``x``: ``{"inputs", "agreement", "max_abs_error"}`` (the largest output difference)."""
    agree, worst = 0, 0.0
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        reference = np.asarray(float_model(chunk), dtype=np.float32).reshape(len(chunk), -1)
        quantized = graph_outputs(graph, chunk).reshape(len(chunk), -1)
        agree += int(np.sum(reference.argmax(axis=1) == quantized.argmax(axis=1)))
        worst = max(worst, float(np.abs(reference - quantized).max()))
    return {"inputs": int(len(x)), "agreement": agree / len(x), "max_abs_error": worst}
