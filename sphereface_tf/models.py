"""Small backbones and the wiring of a backbone with a `SoftmaxHead`."""

import keras
from keras import layers

from sphereface_tf.layers import SoftmaxHead


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
    return keras.Model(inputs, embedding, name=name)


def attach_head(backbone, head, name=None, augment=None):
    """Wire `backbone` (image → features) to `head` (a `SoftmaxHead`).

    Returns `(train_model, inference_model)` sharing all weights:
      * `train_model([images, labels])` → logits with the margin applied in
        training (labels are its second input, also the fit target);
      * `inference_model(images)` → margin-free logits.

    `augment`, a layer or list of layers active only in training (e.g.
    `keras.layers.RandomTranslation`), is applied to the images of the train
    model before the backbone; the inference model never sees it.
    """
    if not isinstance(head, SoftmaxHead):
        raise TypeError(f"`head` must be a SoftmaxHead, got {type(head).__name__}.")
    images = keras.Input(backbone.input_shape[1:], name="image")
    labels = keras.Input((), dtype="int32", name="label")
    if augment is None:
        augment = []
    elif not isinstance(augment, (list, tuple)):
        augment = [augment]
    x = images
    for layer in augment:
        x = layer(x)
    features = backbone(x)
    name = name or f"{backbone.name}_{head.variant}"
    train_model = keras.Model([images, labels], head([features, labels]), name=name)
    clean_features = backbone(images) if augment else features
    inference_model = keras.Model(images, head(clean_features), name=f"{name}_inference")
    return train_model, inference_model
