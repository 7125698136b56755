"""Face embeddings of an image folder for TensorBoard's Projector tab (what face/project.py does)."""

import numpy as np
from PIL import Image

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import FACE_SHAPE, load_folder
from sphereface_tf.face.embed import embed, load_embedding_model
from sphereface_tf.util.errors import check_output_dir
from sphereface_tf.util.modelfiles import check_keras_file
from sphereface_tf.viz.projector import write_projector


def thumbnails(images, width):
    """Shrink (N, H, W, 3) uint8 faces to `width` pixels wide, keeping the aspect ratio."""
    height = round(images.shape[1] * width / images.shape[2])
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)) for image in images])


def project_faces(model_path, images_root, out, landmarks=None, per_identity=None, thumbnail_width=48, batch_size=64):
    """Embed the faces under `images_root/<identity>/` and write them, named by identity, as a Projector log.

    Returns (projector config path, number of faces, number of identities).
    """
    check_output_dir(out)
    check_keras_file(model_path)
    points = read_landmarks(landmarks) if landmarks else None
    images, faces = load_folder(images_root, points, per_identity)
    model = load_embedding_model(model_path, image_shape=FACE_SHAPE)
    features = embed(model, images, batch_size=batch_size)
    config = write_projector(
        out, features,
        {"identity": [faces.names[label] for label in faces.labels], "image": faces.keys},
        images=thumbnails(images, thumbnail_width),
    )
    return config, len(features), len(set(faces.labels.tolist()))
