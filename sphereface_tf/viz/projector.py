"""TensorBoard projector export: embeddings (TSV), metadata, sprite and config."""

import os

import numpy as np
from PIL import Image

from sphereface_tf.util.files import atomic_write

MAX_SPRITE_PIXELS = 8192  # the projector's limit per sprite side


def sprite_image(images):
    """Tile images (N, H, W[, C]) into a square grid, as uint8 RGB or gray."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8:
        images = np.clip(images * (255.0 if images.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    n, h, w = images.shape[:3]
    side = int(np.ceil(np.sqrt(n)))
    if side * max(h, w) > MAX_SPRITE_PIXELS:
        raise ValueError(
            f"{n} thumbnails of {h}×{w} need a {side * h}×{side * w} sprite, above the projector's "
            f"{MAX_SPRITE_PIXELS} px limit; export fewer points or smaller thumbnails"
        )
    grid = np.zeros((side * h, side * w) + images.shape[3:], np.uint8)
    for k in range(n):
        r, c = divmod(k, side)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = images[k]
    return grid


def write_projector(log_dir, embeddings, metadata, images=None, tensor_name="embedding"):
    """Write an embedding for TensorBoard's Projector tab into `log_dir`.

    Args:
        embeddings: (N, D) array.
        metadata: dict column name → N values (written as metadata.tsv with a header).
        images: optional (N, H, W[, C]) thumbnails for the sprite.

    `tensorboard --logdir <log_dir or a parent>` shows it (an event file marks
    the folder as a run so a parent logdir finds it too).
    """
    from tensorboard.plugins import projector  # deferred: tensorboard is optional
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    log_dir = os.fspath(log_dir)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    n = len(embeddings)
    for name, values in metadata.items():
        if len(values) != n:
            raise ValueError(f"metadata column {name!r} has {len(values)} values for {n} embeddings")
    os.makedirs(log_dir, exist_ok=True)
    with atomic_write(os.path.join(log_dir, "tensors.tsv"), "w") as f:
        np.savetxt(f, embeddings, delimiter="\t", fmt="%.6g")
    columns = list(metadata)
    with atomic_write(os.path.join(log_dir, "metadata.tsv"), "w") as f:
        f.write("\t".join(columns) + "\n")
        for row in zip(*(metadata[c] for c in columns)):
            f.write("\t".join(str(v).replace("\t", " ") for v in row) + "\n")
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = tensor_name
    embedding.tensor_path = "tensors.tsv"
    embedding.metadata_path = "metadata.tsv"
    embedding.tensor_shape.extend(embeddings.shape)
    if images is not None:
        images = np.asarray(images)
        with atomic_write(os.path.join(log_dir, "sprite.png"), "wb") as f:
            Image.fromarray(sprite_image(images)).save(f, format="PNG")
        embedding.sprite.image_path = "sprite.png"
        embedding.sprite.single_image_dim.extend([images.shape[2], images.shape[1]])  # width, height
    projector.visualize_embeddings(log_dir, config)
    with tf.summary.create_file_writer(log_dir).as_default():
        tf.summary.text("projector", f"{n} embeddings of dimension {embeddings.shape[1]}: see the Projector tab", step=0)
    return os.path.join(log_dir, "projector_config.pbtxt")
