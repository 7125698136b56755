"""Deployable embedding models: uint8 images in, the paper's L2-normalised features out.

    from sphereface_tf.face.export import export_embedding
    export_embedding(backbone, "exported/")     # exported/embedding.keras + exported/saved_model/

`serving_model(backbone)` wraps an image → FC1 backbone (no classification head)
into a Keras model that takes uint8 images (N, 112, 96, 3), embeds the image and
its mirror image, concatenates and L2-normalises — exactly what `embed.embed`
computes. It is saved as `.keras` (loads with `keras.models.load_model` after
`import sphereface_tf`) and exported with `model.export` as a TensorFlow
SavedModel whose `serve` / `serving_default` signature takes uint8 images and
needs no Python code of ours to run (`tf.saved_model.load`, TF Serving).
"""

import os
import shutil

import keras
from keras import layers

from sphereface_tf.face.embed import embedding_backbone, load_embedding_model
from sphereface_tf.layers import MirrorImages
from sphereface_tf.util.errors import InputError, check_output_dir
from sphereface_tf.util.faults import fault_point

SIGNATURE_INPUT = "images"


def serving_model(backbone, flip=True, name="face_embedding"):
    """uint8 images → L2-normalised FC1(image) ‖ FC1(mirror) (or FC1 alone with `flip=False`).

    The normalisation runs in float32 whatever the backbone's dtype policy.
    """
    if len(backbone.inputs) != 1:
        raise ValueError(
            f"serving_model needs an image → embedding backbone with one input, got {len(backbone.inputs)} inputs; "
            "pass sphereface_tf.face.embed.embedding_backbone(model) for a training model"
        )
    images = keras.Input(backbone.input_shape[1:], dtype="uint8", name=SIGNATURE_INPUT)
    pixels = layers.Rescaling(1.0, dtype="float32", name="to_float")(images)  # uint8 → float32 [0, 255]
    features = backbone(pixels)
    if flip:
        mirrored = backbone(MirrorImages(name="mirror")(pixels))
        features = layers.Concatenate(dtype="float32", name="flip_concat")([features, mirrored])
    embedding = layers.UnitNormalization(dtype="float32", name="l2_normalize")(features)
    return keras.Model(images, embedding, name=name)


def export_saved_model(model, path):
    """`model.export` as a SavedModel whose signature takes uint8 images of the model's input shape.

    Written to a temporary sibling folder and moved into place, so `path` is
    either absent or complete.
    """
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; choose a new folder (exports are never overwritten)")
    partial = os.path.join(os.path.dirname(path), f".partial-{os.path.basename(path)}")
    shutil.rmtree(partial, ignore_errors=True)
    spec = tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.uint8, name=SIGNATURE_INPUT)
    model.export(partial, format="tf_saved_model", input_signature=[spec], verbose=False)
    os.rename(partial, path)
    return path


def export_embedding(backbone, out_dir, flip=True):
    """Write `out_dir/embedding.keras` and `out_dir/saved_model/` of `serving_model(backbone)`.

    Everything is written into a hidden sibling folder (`.partial-<name>`) that is
    renamed to `out_dir` once complete, so `out_dir` is either absent or a whole
    export; a stale partial folder of an interrupted export is replaced. An existing,
    non-empty `out_dir` is never overwritten. Returns the two paths.
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not empty; choose a new folder (exports are never overwritten)")
    model = serving_model(embedding_backbone(backbone), flip=flip)
    partial = os.path.join(os.path.dirname(out_dir), f".partial-{os.path.basename(out_dir)}")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        model.save(os.path.join(partial, "embedding.keras"))
        fault_point("export")
        export_saved_model(model, os.path.join(partial, "saved_model"))
        if os.path.isdir(out_dir):
            os.rmdir(out_dir)  # empty (checked above)
        os.rename(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return os.path.join(out_dir, "embedding.keras"), os.path.join(out_dir, "saved_model")


def export_model_file(model_path, out_dir, flip=True):
    """What face/export.py does: the backbone of a saved model (refused if its weights are not finite), exported."""
    check_output_dir(out_dir)
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise InputError(f"--out {out_dir}: holds files already (an earlier export?); exports are never overwritten, "
                         "choose a new folder")
    return export_embedding(load_embedding_model(model_path), out_dir, flip=flip)
