"""Face embeddings from a trained model: the paper's flip-concatenated FC1 features.

    from sphereface_tf.embed import load_embedding_model, embed, compare
    model = load_embedding_model("runs/x/model.keras")   # training or embedding model
    features = embed(model, images)                       # (N, 1024), L2-normalised
    compare(features[0], features[1])                     # cosine similarity
"""

import collections

import keras
import numpy as np

from sphereface_tf.layers import MirrorImages, SoftmaxHead
from sphereface_tf.stats import unit_rows


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
    from sphereface_tf.errors import ModelFileError, load_keras_model

    model = load_keras_model(path, what)
    try:
        backbone = embedding_backbone(model)
    except ValueError as err:
        raise ModelFileError(f"{what} {path}: {err}") from err
    if image_shape is not None and tuple(backbone.input_shape[1:]) != tuple(image_shape):
        raise ModelFileError(f"{what} {path}: a model for images of shape {tuple(backbone.input_shape[1:])}, "
                             f"this tool needs {tuple(image_shape)} (a face model from face/train.py)")
    return backbone


def embed(model, images, flip=True, batch_size=64):
    """Embeddings of `images` (N, H, W, 3) in [0, 255]: FC1(image) ‖ FC1(mirrored image), L2-normalised.

    With `flip=False`, FC1 alone (half the dimension).
    """
    model = embedding_backbone(model)  # a training or exported serving model works too
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C), got shape {images.shape}")
    features = model.predict(images, batch_size=batch_size, verbose=0)
    if flip:
        features = np.concatenate([features, model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)], axis=1)
    return unit_rows(features)


def load_folder(root, landmarks=None, per_identity=None):
    """Faces under `root/<identity>/<image>`, preprocessed as for training.

    Each image is aligned with its 5-point landmarks (a dict keyed by
    `identity/image`, as `align.read_landmarks` returns) or resized to 112×96.
    `per_identity` keeps the first N images of each identity. Returns
    `(images, faces)`: uint8 (N, 112, 96, 3) crops and the `FaceList`
    (paths, labels, identity names, keys).
    """
    from sphereface_tf.facedata import FaceList, load_faces, scan_identity_folders

    faces = scan_identity_folders(root)
    if per_identity is not None:
        seen = collections.Counter()
        keep = []
        for i, label in enumerate(faces.labels.tolist()):
            seen[label] += 1
            if seen[label] <= per_identity:
                keep.append(i)
        faces = FaceList([faces.paths[i] for i in keep], faces.labels[keep], faces.names, [faces.keys[i] for i in keep])
    images, _ = load_faces(faces.paths, faces.keys, landmarks, where=f" under {root}")
    return images, faces


def compare(a, b):
    """Cosine similarity of two embeddings (or row-wise of two batches)."""
    return np.sum(unit_rows(a) * unit_rows(b), axis=-1)
