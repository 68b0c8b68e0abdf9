"""Build small int8 .tflite models with TensorFlow's own converter into tests/data/tflite/.

Needs TensorFlow (not a dependency of edge-deploy; e.g. a separate venv with tensorflow-cpu):

    /path/to/tf-venv/bin/python benchmarks/make_tflite_fixtures.py

Full-integer quantization (int8 activations; int8 inputs and outputs unless a model's interface
says float32 or uint8), seeded weights and representative data, so the files are deterministic
for a given TensorFlow version, with one exception: TensorFlow 2.21's converter wires the
equally named outputs of data_movement's UNPACK to its QUANTIZE ops in an order that changes from
run to run (every order computes the same). Together the
models cover CONV_2D (1-D and 2-D, strides, dilation, SAME/VALID), DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, ADD, SOFTMAX, PAD, RESHAPE and MEAN (Keras'
GlobalAveragePooling2D), and since issue 12: a MobileNetV3 block (HARD_SWISH, squeeze-excite with
LOGISTIC and a broadcasting MUL), models with the float32 and the uint8 interface (QUANTIZE,
DEQUANTIZE), a
PyTorch-style model starting with TRANSPOSE, the activations (LEAKY_RELU, PRELU, TANH, RELU,
RELU6, SUB, MAXIMUM, MINIMUM), the data movement ops (CONCATENATION, SPLIT, SPLIT_V, UNPACK, PACK,
SLICE, STRIDED_SLICE, SQUEEZE, EXPAND_DIMS, SUM, REDUCE_MAX, RESIZE_NEAREST_NEIGHBOR),
TRANSPOSE_CONV, BATCH_MATMUL, UNIDIRECTIONAL_SEQUENCE_LSTM (the full-integer "8x8->16" LSTM:
int8 input, output and weights, int16 cell state and gates, int32 biases; made with tf_keras,
whose LSTM layer the converter fuses into one operator, where Keras 3's becomes a WHILE loop)
and SVDF (int8 with int16 state; written by edge-deploy's own writer, as TensorFlow's converter
makes no SVDF from Keras). `--out DIR` writes elsewhere (to compare a rebuild with the
committed files).
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


def mobilenet_v3_block_model():
    """A MobileNetV3 bottleneck: 1x1 expansion with hard-swish, depthwise, squeeze-excite (global
    mean, two 1x1 convolutions, a sigmoid gate multiplied over H and W), 1x1 projection, residual."""
    x = inp = tf.keras.Input((12, 12, 8), batch_size=1)
    y = tf.keras.layers.Conv2D(24, 1)(x)
    y = tf.keras.layers.Activation(tf.nn.relu6)(y + 3.0) * y / 6.0  # hard-swish, as MobileNetV3 writes it
    y = tf.keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = tf.keras.layers.Activation("hard_swish")(y)
    gate = tf.keras.layers.GlobalAveragePooling2D(keepdims=True)(y)
    gate = tf.keras.layers.Conv2D(8, 1, activation="relu")(gate)
    gate = tf.keras.layers.Conv2D(24, 1, activation="sigmoid")(gate)
    y = tf.keras.layers.Multiply()([y, gate])
    y = tf.keras.layers.Conv2D(8, 1)(y)
    x = tf.keras.layers.Add()([x, y])
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(5)(x)), (12, 12, 8)


def float_io_model():
    """Converted with the converter's default float32 interface: QUANTIZE in, DEQUANTIZE out."""
    x = inp = tf.keras.Input((8, 8, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(6, 3, activation="relu")(x)
    x = tf.keras.layers.Flatten()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(4, activation="softmax")(x)), (8, 8, 3)


def pytorch_style_model():
    """As a PyTorch model exported to .tflite looks: a channels-first input transposed to NHWC."""
    x = inp = tf.keras.Input((3, 10, 10), batch_size=1)
    x = tf.keras.layers.Lambda(lambda t: tf.transpose(t, [0, 2, 3, 1]))(x)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.Lambda(lambda t: tf.transpose(t, [0, 3, 1, 2]))(x)  # back to NCHW, flattened as PyTorch does
    x = tf.keras.layers.Flatten()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(4)(x)), (3, 10, 10)


def activations_model():
    """LEAKY_RELU, PRELU, TANH, LOGISTIC, RELU, RELU6, HARD_SWISH, SUB, MAXIMUM, MINIMUM."""
    x = inp = tf.keras.Input((6, 6, 8), batch_size=1)
    a = tf.keras.layers.Conv2D(8, 1)(x)
    b = tf.keras.layers.Conv2D(8, 1)(x)
    y = tf.keras.layers.LeakyReLU(0.15)(a)
    y = tf.keras.layers.PReLU(shared_axes=[1, 2])(y)
    t = tf.keras.layers.Activation("tanh")(b)
    s = tf.keras.layers.Activation("sigmoid")(b)
    d = tf.keras.layers.Subtract()([y, t])
    m = tf.keras.layers.ReLU(6.0)(tf.keras.layers.Maximum()([d, s]))  # MAXIMUM fuses no activation: RELU6
    n = tf.keras.layers.Minimum()([m, a])
    r = tf.keras.layers.ReLU()(tf.keras.layers.Conv2D(8, 1)(n) + b)
    r6 = tf.keras.layers.ReLU(6.0)(tf.keras.layers.Conv2D(8, 1)(r) - a)
    h = tf.keras.layers.Activation("hard_swish")(r6)
    h = tf.keras.layers.Flatten()(h)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3)(h)), (6, 6, 8)


def _data_movement(x):
    p, q, r = tf.split(x, 3, axis=3)
    u, v = tf.split(x, [4, 8], axis=3)
    rows = tf.unstack(p, axis=1)
    stacked = tf.stack(rows[::-1], axis=1)  # PACK (1, 8, 8, 4), every UNPACK output used
    cat = tf.concat([q, r, u], axis=3)  # (1, 8, 8, 12)
    cat = cat[:, 1:7:2, ::3, :]  # STRIDED_SLICE (1, 3, 3, 12)
    part = tf.slice(v, [0, 2, 2, 0], [1, 4, 4, -1])  # SLICE (1, 4, 4, 8)
    up = tf.image.resize(part, (8, 8), method="nearest")  # RESIZE_NEAREST_NEIGHBOR (1, 8, 8, 8)
    total = tf.reduce_sum(stacked, axis=[1, 2], keepdims=True)  # SUM (1, 1, 1, 4)
    peak = tf.reduce_max(cat, axis=[1, 2])  # REDUCE_MAX (1, 12)
    gated = up[:, :, :, :4] * total  # MUL broadcast (1, 8, 8, 4) x (1, 1, 1, 4)
    flat = tf.squeeze(tf.reduce_mean(gated, axis=[1, 2], keepdims=True), axis=[1, 2])  # SQUEEZE (1, 4)
    return tf.expand_dims(tf.concat([flat, peak], axis=1), 1)  # EXPAND_DIMS (1, 1, 16)


def data_movement_model():
    """CONCATENATION, SPLIT, SPLIT_V, UNPACK, PACK, SLICE, STRIDED_SLICE, SQUEEZE, EXPAND_DIMS,
    SUM, REDUCE_MAX, RESIZE_NEAREST_NEIGHBOR, MUL with broadcasting."""
    x = inp = tf.keras.Input((8, 8, 6), batch_size=1)
    x = tf.keras.layers.Conv2D(12, 1, activation="relu")(x)
    x = tf.keras.layers.Lambda(_data_movement)(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(4)(tf.keras.layers.Flatten()(x))), (8, 8, 6)


def transpose_conv_model():
    """TRANSPOSE_CONV (a decoder's upsampling), strides 2, SAME and VALID."""
    x = inp = tf.keras.Input((5, 5, 4), batch_size=1)
    x = tf.keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2DTranspose(3, (2, 3), strides=(1, 2), padding="valid")(x)
    return tf.keras.Model(inp, x), (5, 5, 4)


def batch_matmul_model():
    """BATCH_MATMUL of two activations (attention scores), then a softmax."""
    x = inp = tf.keras.Input((6, 8), batch_size=1)
    qry = tf.keras.layers.Dense(8)(x)
    key = tf.keras.layers.Dense(8)(x)
    scores = tf.keras.layers.Lambda(lambda qk: tf.matmul(qk[0], qk[1], transpose_b=True))([qry, key])  # (1, 6, 6)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(scores)), (6, 8)


def uint8_io_model():
    """Converted with a uint8 input and output: QUANTIZE uint8 -> int8 in, int8 -> uint8 out."""
    x = inp = tf.keras.Input((6, 6, 2), batch_size=1)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3)(x)), (6, 6, 2)


def lstm_model():
    """A Keras LSTM returning its sequence, then a dense layer on each step: the converter fuses the
    tf_keras layer (not Keras 3's) into UNIDIRECTIONAL_SEQUENCE_LSTM, batch-major, with int8 weights,
    an int16 cell state of scale 2**-14 and an int8 output state (TFLite variable tensors)."""
    import tf_keras

    x = inp = tf_keras.Input((8, 6), batch_size=1)
    x = tf_keras.layers.LSTM(12, return_sequences=True)(x)
    return tf_keras.Model(inp, tf_keras.layers.Dense(4)(x)), (8, 6)


# name -> (builder, seed), built in this order. New models go last with their own seed, so the
# files already made keep their bytes.
MODELS = {"conv2d": (conv2d_model, 0), "depthwise": (depthwise_model, 1), "pad_conv1d": (pad_conv1d_model, 2),
          "residual_add": (residual_model, 3), "gap_mean": (gap_mean_model, 4),
          "mobilenet_v3_block": (mobilenet_v3_block_model, 5), "float_io": (float_io_model, 6),
          "pytorch_style": (pytorch_style_model, 7), "activations": (activations_model, 8),
          "data_movement": (data_movement_model, 9), "transpose_conv": (transpose_conv_model, 10),
          "batch_matmul": (batch_matmul_model, 11), "uint8_io": (uint8_io_model, 12),
          "lstm": (lstm_model, 13)}


def svdf_tflite(seed):
    """Two stacked SVDF layers (keyword-spotting style: 24 features per frame, 32 filters of
    memory 6 at rank 2, then 8 filters of memory 4), int8 with int16 state, written by
    edge-deploy's own .tflite writer: TensorFlow's converter makes no SVDF from a Keras model
    (tensorflow/tensorflow#63035, tflite-micro#2529), so the float layers run here in NumPy over
    a representative sequence and are quantized as TFLite quantizes an SVDF: symmetric int8
    feature weights, symmetric int16 time weights and state, an int32 bias at state scale times
    time-weight scale, int8 activations from their measured ranges."""
    from edge_deploy.ir import QuantParams
    from edge_deploy.ops import GraphBuilder

    rng = np.random.default_rng(seed)
    frames = rng.normal(0.0, 1.0, (200, 24)).astype(np.float32)
    frames = np.cumsum(frames, axis=0) * 0.3 / np.sqrt(np.arange(1, 201))[:, None]  # correlated in time
    layers = []
    x = frames.astype(np.float64)
    for filters, memory, rank, fan_in in ((32, 6, 2, 24), (8, 4, 1, 16)):
        wf = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (filters, fan_in))
        wt = rng.normal(0.0, 1.0 / np.sqrt(memory), (filters, memory))
        bias = rng.normal(0.0, 0.1, filters // rank)
        state = np.zeros((filters, memory))
        newest, outputs = [], []
        for frame in x:  # the float SVDF: shift, newest value, time weights, rank sum, bias, ReLU
            state = np.roll(state, -1, axis=1)
            state[:, -1] = wf @ frame
            newest.append(state[:, -1].copy())
            outputs.append(np.maximum((state * wt).sum(axis=1).reshape(-1, rank).sum(axis=1) + bias, 0.0))
        layers.append((wf, wt, bias, rank, memory, np.abs(np.asarray(newest)).max(), np.asarray(outputs)))
        x = np.asarray(outputs)

    def q(scale, zero=0):
        return QuantParams([float(np.float32(scale))], [int(zero)])

    def activation_q(values):
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
        scale = (high - low) / 255.0
        return q(scale, int(np.clip(round(-128 - low / scale), -128, 127)))

    builder = GraphBuilder("svdf", "int8")
    name = builder.input("frame", (1, 24), activation_q(frames))
    for i, (wf, wt, bias, rank, memory, state_max, outputs) in enumerate(layers, 1):
        wf_scale, wt_scale = np.abs(wf).max() / 127.0, np.abs(wt).max() / 32767.0
        state_scale = state_max / 32767.0
        bias_scale = np.float32(state_scale) * np.float32(wt_scale)
        feature = builder.constant(f"svdf{i}/weights_feature", np.round(wf / wf_scale), "int8", q(wf_scale))
        time = builder.constant(f"svdf{i}/weights_time", np.round(wt / wt_scale), "int16", q(wt_scale))
        b = builder.constant(f"svdf{i}/bias", np.round(bias / bias_scale), "int32", q(bias_scale))
        state = builder.variable(f"svdf{i}/state", (1, wf.shape[0] * memory), "int16", q(state_scale))
        name = builder.svdf(name, f"svdf{i}", feature, time, state, b, rank=rank, activation="relu",
                            quant=activation_q(outputs))
    from edge_deploy.tflite import export_tflite

    return export_tflite(builder.finish([name]), description="edge-deploy (benchmarks/make_tflite_fixtures.py)")


# Models written by edge-deploy's own writer (the converter cannot make their ops from Keras):
# name -> (function of the seed giving the .tflite bytes, seed, input shape).
WRITTEN = {"svdf": (svdf_tflite, 13, (24,))}

# The interface each model is converted with (int8 unless named here): "float32" is the
# converter's default (no inference_input_type), "uint8" a uint8 input and output.
INTERFACE = {"float_io": "float32", "uint8_io": "uint8"}


def convert(model, shape, seed, interface="int8"):
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(64):
            yield [rng.normal(0, 1, (1,) + shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if interface != "float32":
        converter.inference_input_type = tf.uint8 if interface == "uint8" else tf.int8
        converter.inference_output_type = tf.uint8 if interface == "uint8" else tf.int8
    return converter.convert()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="output folder (default: tests/data/tflite)")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    # In this order: Keras numbers its layers per process and the names end up in the files.
    for name, (build, seed) in MODELS.items():
        tf.keras.utils.set_random_seed(seed)  # also seeds tf_keras (Python, NumPy, TensorFlow)
        model, shape = build()
        data = convert(model, shape, seed, INTERFACE.get(name, "int8"))
        (out / f"{name}.tflite").write_bytes(data)
        made[name] = {"bytes": len(data), "input_shape": [1, *shape], "interface": INTERFACE.get(name, "int8")}
        print(f"{name}: {len(data)} bytes")
    for name, (write, seed, shape) in WRITTEN.items():
        data = write(seed)
        (out / f"{name}.tflite").write_bytes(data)
        made[name] = {"bytes": len(data), "input_shape": [1, *shape], "interface": "int8",
                      "made_by": "edge-deploy's .tflite writer"}
        print(f"{name}: {len(data)} bytes (edge-deploy's writer)")
    (out / "README.json").write_text(json.dumps({"tensorflow": tf.__version__, "models": made}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
