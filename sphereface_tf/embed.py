"""Face embeddings from a trained model: the paper's flip-concatenated FC1 features.

    from sphereface_tf.embed import load_embedding_model, embed, compare
    model = load_embedding_model("runs/x/model.keras")   # training or embedding model
    features = embed(model, images)                       # (N, 1024), L2-normalised
    compare(features[0], features[1])                     # cosine similarity
"""

import keras
import numpy as np

from sphereface_tf.layers import SoftmaxHead
from sphereface_tf.stats import unit_rows


def embedding_backbone(model):
    """The image → embedding part of a model we saved (training model or backbone)."""
    if isinstance(model.layers[-1], SoftmaxHead) or len(model.inputs) == 2:
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                return layer
        raise ValueError(f"model {model.name!r} has a SoftmaxHead but no nested backbone model")
    return model


def load_embedding_model(path):
    """Load a `.keras` file written by face/train.py or mnist_demo (safe mode) and return its backbone."""
    import sphereface_tf  # noqa: F401  (registers SoftmaxHead)

    return embedding_backbone(keras.models.load_model(path))


def embed(model, images, flip=True, batch_size=64):
    """Embeddings of `images` (N, H, W, 3) in [0, 255]: FC1(image) ‖ FC1(mirrored image), L2-normalised.

    With `flip=False`, FC1 alone (half the dimension).
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
    features = model.predict(images, batch_size=batch_size, verbose=0)
    if flip:
        features = np.concatenate([features, model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)], axis=1)
    return unit_rows(features)


def compare(a, b):
    """Cosine similarity of two embeddings (or row-wise of two batches)."""
    return np.sum(unit_rows(a) * unit_rows(b), axis=-1)
