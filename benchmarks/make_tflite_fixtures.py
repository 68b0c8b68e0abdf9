"""Build small int8 .tflite models with TensorFlow's own converter into tests/data/tflite/.

Needs TensorFlow (not a dependency of edge-deploy; e.g. a separate venv with tensorflow-cpu):

    /path/to/tf-venv/bin/python benchmarks/make_tflite_fixtures.py

Full-integer quantization (int8 inputs, outputs and activations), seeded weights and
representative data, so the files are deterministic for a given TensorFlow version. Together the
models cover CONV_2D (1-D and 2-D, strides, dilation, SAME/VALID), DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, ADD, SOFTMAX, PAD, RESHAPE and MEAN (Keras'
GlobalAveragePooling2D). `--out DIR` writes elsewhere (to compare a rebuild with the committed files).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tflite"


def conv2d_model():
    x = inp = tf.keras.Input((16, 16, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2D(5, (3, 2), padding="valid", dilation_rate=(1, 2), activation="relu6")(x)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(6)(x)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(x)), (16, 16, 3)


def depthwise_model():
    x = inp = tf.keras.Input((12, 12, 4), batch_size=1)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu")(x)
    x = tf.keras.layers.Conv2D(7, 1, activation="relu")(x)
    x = tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = tf.keras.layers.AveragePooling2D(2, padding="same")(x)
    x = tf.keras.layers.Flatten()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(4)(x)), (12, 12, 4)


def residual_model():
    x = inp = tf.keras.Input((10, 10, 6), batch_size=1)
    y = tf.keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = tf.keras.layers.Conv2D(6, 3, padding="same")(y)
    x = tf.keras.layers.ReLU()(tf.keras.layers.Add()([x, y]))
    x = tf.keras.layers.MaxPooling2D(2, strides=2)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(10, activation="relu")(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3)(x)), (10, 10, 6)


def pad_conv1d_model():
    x = inp = tf.keras.Input((1, 200, 1), batch_size=1)
    x = tf.keras.layers.ZeroPadding2D(((0, 0), (5, 6)))(x)
    x = tf.keras.layers.Conv2D(8, (1, 16), strides=(1, 4), padding="valid", activation="relu")(x)
    x = tf.keras.layers.MaxPooling2D((1, 2))(x)
    x = tf.keras.layers.Conv2D(12, (1, 3), padding="same", activation="relu")(x)
    x = tf.keras.layers.AveragePooling2D((1, 2))(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(5)(x)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(x)), (1, 200, 1)


def gap_mean_model():
    x = inp = tf.keras.Input((9, 9, 5), batch_size=1)
    x = tf.keras.layers.Conv2D(12, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2D(16, 1, activation="relu6")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(6)(x)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(x)), (9, 9, 5)


# name -> (builder, seed), built in this order. New models go last with their own seed, so the
# files already made keep their bytes.
MODELS = {"conv2d": (conv2d_model, 0), "depthwise": (depthwise_model, 1), "pad_conv1d": (pad_conv1d_model, 2),
          "residual_add": (residual_model, 3), "gap_mean": (gap_mean_model, 4)}


def convert(model, shape, seed):
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(64):
            yield [rng.normal(0, 1, (1,) + shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="output folder (default: tests/data/tflite)")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    # In this order: Keras numbers its layers per process and the names end up in the files.
    for name, (build, seed) in MODELS.items():
        tf.keras.utils.set_random_seed(seed)
        model, shape = build()
        data = convert(model, shape, seed)
        (out / f"{name}.tflite").write_bytes(data)
        made[name] = {"bytes": len(data), "input_shape": [1, *shape]}
        print(f"{name}: {len(data)} bytes")
    (out / "README.json").write_text(json.dumps({"tensorflow": tf.__version__, "models": made}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
