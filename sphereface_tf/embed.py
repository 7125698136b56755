"""Moved to `sphereface_tf.face.embed` (load_folder to `sphereface_tf.face.data`); this name keeps old imports working."""

from sphereface_tf.face.data import load_folder  # noqa: F401
from sphereface_tf.face.embed import compare, embed, embedding_backbone, load_embedding_model  # noqa: F401
