"""Face embeddings from a trained model: the paper's flip-concatenated FC1 features.

    from sphereface_tf.face.embed import load_embedding_model, embed, compare
    model = load_embedding_model("runs/x/model.keras")   # training or embedding model
    features = embed(model, images)                       # (N, 1024), L2-normalised
    compare(features[0], features[1])                     # cosine similarity
"""

import keras
import numpy as np

from sphereface_tf.angles import unit_rows
from sphereface_tf.layers import MirrorImages, SoftmaxHead
from sphereface_tf.util.errors import ModelFileError
from sphereface_tf.util.modelfiles import load_keras_model


def embedding_backbone(model):
    """The image → embedding part of a model we saved (training, serving model or backbone)."""
    wrapper = len(model.inputs) == 2 or any(isinstance(layer, (SoftmaxHead, MirrorImages)) for layer in model.layers)
    if wrapper:
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                return layer
        raise ValueError(f"model {model.name!r} has a SoftmaxHead but no nested backbone model")
    return model


def load_embedding_model(path, image_shape=None, what="--model"):
    """Load a `.keras` file written by face/train.py, face/export.py or mnist_demo (safe mode); return its backbone.

    A missing, truncated or foreign file raises `ModelFileError` saying so; with
    `image_shape` (e.g. (112, 96, 3) for faces) so does a model for other images.
    """
    model = load_keras_model(path, what)
    try:
        backbone = embedding_backbone(model)
    except ValueError as err:
        raise ModelFileError(f"{what} {path}: {err}") from err
    bad = non_finite_weights(model)
    if bad:
        raise ModelFileError(f"{what} {path}: {len(bad)} weight(s) are NaN or inf (e.g. {bad[0]}): the training run "
                             "diverged; resume it from its last finite checkpoint with a lower learning rate")
    if image_shape is not None and tuple(backbone.input_shape[1:]) != tuple(image_shape):
        raise ModelFileError(f"{what} {path}: a model for images of shape {tuple(backbone.input_shape[1:])}, "
                             f"this tool needs {tuple(image_shape)} (a face model from face/train.py)")
    return backbone


def non_finite_weights(model):
    """Paths of the model's weights that hold a NaN or an infinity."""
    return [v.path for v in model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(v)))]


class NonFiniteEmbeddings(ModelFileError):
    """A model whose embeddings are NaN or inf: nothing computed from them means anything."""


def embed(model, images, flip=True, batch_size=64):
    """Embeddings of `images` (N, H, W, 3) in [0, 255]: FC1(image) ‖ FC1(mirrored image), L2-normalised.

    With `flip=False`, FC1 alone (half the dimension). Raises `NonFiniteEmbeddings` if any
    embedding is NaN or inf (a diverged model), rather than return them.
    """
    model = embedding_backbone(model)  # a training or exported serving model works too
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
    features = model.predict(images, batch_size=batch_size, verbose=0)
    if flip:
        features = np.concatenate([features, model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)], axis=1)
    bad = ~np.all(np.isfinite(features), axis=1)
    if bad.any():
        raise NonFiniteEmbeddings(f"model {model.name!r}: the embeddings of {int(bad.sum())} of {len(bad)} image(s) are NaN "
                                  "or inf (did its training diverge?); no score is computed from them")
    return unit_rows(features)


def compare(a, b):
    """Cosine similarity of two embeddings (or row-wise of two batches)."""
    return np.sum(unit_rows(a) * unit_rows(b), axis=-1)
