"""Keras models with random weights for the TensorFlow path's tests and benchmark (needs keras).

:func:`dscnn` is MLPerf Tiny's keyword-spotting DS-CNN layer for layer (a strided SAME 10 x 4
convolution, depthwise-separable blocks, each convolution followed by batch norm and ReLU,
average pooling over the whole map, a dense classifier and a softmax), with every size a
parameter so a test can build a tiny one. Random weights are drawn so the network neither
vanishes nor explodes: He-normal kernels (the activations keep their scale through the ReLUs)
and random batch-norm statistics (so folding them into the convolutions is exercised); with
Keras' default initialization the activations of an untrained DS-CNN shrink layer by layer until
its softmax outputs differ by less than one int8 step, a tie no int8 model can rank.
"""

from __future__ import annotations

import numpy as np


def randomize_batch_norms(model, seed: int = 0) -> None:
    """Give every BatchNormalization layer of ``model`` random scale, offset, mean and variance."""
    from keras import layers

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = int(layer.gamma.shape[0])
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0.0, 0.1, n), rng.normal(0.0, 0.1, n),
                               rng.uniform(0.5, 1.5, n)])


def dscnn(input_shape: tuple[int, int, int] = (49, 10, 1), classes: int = 12, filters: int = 64, blocks: int = 4,
          first_kernel: tuple[int, int] = (10, 4), softmax: bool = True, seed: int = 0):
    """A DS-CNN (default: MLPerf Tiny's KWS model, 49 frames x 10 MFCC, 12 classes) with random weights."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    conv = {"use_bias": False, "kernel_initializer": "he_normal"}
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(filters, first_kernel, strides=(2, 2), padding="same", **conv)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(blocks):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False, depthwise_initializer="he_normal")(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(filters, (1, 1), **conv)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.AveragePooling2D(pool_size=tuple(int(d) for d in x.shape[1:3]))(x)
    x = layers.Dense(classes)(layers.Flatten()(x))
    if softmax:
        x = layers.Softmax()(x)
    model = keras.Model(inputs, x, name="dscnn")
    randomize_batch_norms(model, seed)
    return model
