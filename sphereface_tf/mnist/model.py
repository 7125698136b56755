"""The small CNN of the SphereFace MNIST experiments (2-D and 3-D embeddings)."""

import keras
from keras import layers

from sphereface_tf.fastpath import accelerate


def conv_prelu(x, filters, name, kernel_size=3, strides=1):
    """3×3 convolution followed by a channel-wise PReLU (the paper's activation)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", name=f"{name}_conv")(x)
    return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)


def mnist_cnn(embedding_dim=2, input_shape=(28, 28, 1), widths=(32, 64, 128), name="mnist_cnn"):
    """LeNet++-style CNN of the SphereFace MNIST experiments → `Dense(embedding_dim)`.

    Three stages of two 3×3 conv + PReLU and a 2×2 max-pool, then a linear
    embedding of `embedding_dim` (2 or 3 for the pictures). Inputs are images
    in [0, 1].
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for stage, filters in enumerate(widths, start=1):
        x = conv_prelu(x, filters, f"stage{stage}a")
        x = conv_prelu(x, filters, f"stage{stage}b")
        x = layers.MaxPooling2D(2, padding="same", name=f"stage{stage}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    embedding = layers.Dense(embedding_dim, name="embedding")(x)
    model = keras.Model(inputs, embedding, name=name)
    accelerate(model)  # TensorFlow on a CPU: a faster backward pass, same layers (sphereface_tf/fastpath.py)
    return model
