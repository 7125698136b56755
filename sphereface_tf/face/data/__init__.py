"""Face data: image folders or list files → a prepared data set → training batches.

Two prepared formats, one choice of `face/prepare.py --format`:

* `tfrecords` (`sphereface_tf.face.data.tfrecords`): sharded TFRecords of JPEG faces,
  read by a `tf.data` pipeline. Small on disk; needs TensorFlow and CPU for decoding.
* `cache` (`sphereface_tf.face.data.cache`): decoded uint8 faces in one memory-mapped
  file, gathered in batches by NumPy threads. ≈8× larger on disk, no decoding, no
  TensorFlow: the input for GPUs and for the JAX backend.

`training_input` opens either for `model.fit`.
"""

import os

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.util.errors import check_output_dir
from sphereface_tf.face.data.cache import CacheBatches, FaceArrays, FaceCache, is_cache, write_cache
from sphereface_tf.face.data.sources import (
    FACE_SHAPE,
    HEIGHT,
    IMAGE_EXTENSIONS,
    WIDTH,
    FaceDataError,
    FaceList,
    drop_small_identities,
    fit_face,
    iter_faces,
    load_face,
    load_folder,
    load_faces,
    num_classes,
    read_list_file,
    read_rgb,
    scan_identity_folders,
)
from sphereface_tf.face.data.tfrecords import (
    make_dataset,
    tfrecord_files,
    write_tfrecords,
)

__all__ = [
    "FACE_SHAPE", "HEIGHT", "IMAGE_EXTENSIONS", "WIDTH", "CacheBatches", "FaceArrays", "FaceCache", "FaceDataError", "FaceList",
    "drop_small_identities", "fit_face", "load_folder", "is_cache", "iter_faces", "load_face", "load_faces", "make_dataset",
    "num_classes", "read_list_file", "read_rgb", "scan_identity_folders", "tfrecord_files", "training_input",
    "prepare_faces", "write_cache", "write_tfrecords",
]


def training_input(data_dir, batch_size, seed=0, start_batch=0, deterministic=False, shuffle_buffer=10000,
                   shard=(0, 1)):
    """The endless training stream of a prepared data set, for `model.fit(..., steps_per_epoch=...)`.

    A decoded cache gives a `CacheBatches` generator (any backend, always the same
    batches for the same seed); TFRecords give the `tf.data` pipeline (needs
    TensorFlow; `deterministic` fixes its order). Either starts at `start_batch`.
    Returns `(stream, kind)` with kind "cache" or "tfrecords".
    """
    if not os.path.isdir(data_dir):
        raise FaceDataError(f"{data_dir}: data folder not found; write one with "
                            f"`python face/prepare.py --images <folder> --out {data_dir}`")
    if is_cache(data_dir):
        return iter(CacheBatches(data_dir, batch_size, seed=seed, start_batch=start_batch, shard=shard)), "cache"
    tfrecord_files(data_dir)  # raises "not a prepared data set" when there are none
    if not os.path.isfile(os.path.join(data_dir, "summary.json")):  # written last by face/prepare.py
        raise FaceDataError(f"{data_dir}: unfinished TFRecords (no summary.json: face/prepare.py was interrupted); "
                            f"run `python face/prepare.py --images <folder> --out {data_dir}` again")
    if shard != (0, 1):
        raise FaceDataError(f"{data_dir}: TFRecords feed one process here; use a decoded cache "
                            "(face/prepare.py --format cache) for multi-process JAX training")
    try:
        import tensorflow  # noqa: F401  (deferred: TensorFlow is optional; TFRecords need it)
    except ImportError as err:
        raise FaceDataError(f"{data_dir}: TFRecords are read with TensorFlow, which is not installed; write a "
                            f"decoded cache instead: `python face/prepare.py --images <folder> --format cache "
                            f"--out <folder>`") from err
    ds = make_dataset(data_dir, batch_size, training=True, seed=seed, shuffle_buffer=shuffle_buffer,
                      deterministic=deterministic, start_batch=start_batch)
    return ds, "tfrecords"


def prepare_faces(images, out, list_file=None, landmarks=None, min_images=1, format="jpeg", shards=64, workers=None):
    """What face/prepare.py does: read (and align) the faces under `images`, write TFRecords or a decoded cache to `out`.

    `list_file`: `relative/path label` lines (default: identity folders); `landmarks`: a
    landmark file to align with (default: the images are taken as aligned and resized to
    112×96); `format`: "jpeg" or "png" TFRecord shards, or "cache". Returns the summary.
    """
    check_output_dir(out)
    faces = read_list_file(list_file, images) if list_file else scan_identity_folders(images)
    if min_images > 1:
        faces = drop_small_identities(faces, min_images)
    points = read_landmarks(landmarks) if landmarks else None
    print(f"{len(faces)} images of {len(faces.names)} identities → {out}")
    if format == "cache":
        summary = write_cache(faces, out, landmarks=points, workers=workers)
        print(f"wrote {summary['images']} decoded faces ({summary['bytes'] / 2**30:.2f} GiB); skipped {summary['skipped']}")
    else:
        summary = write_tfrecords(faces, out, shards=shards, landmarks=points, image_format=format)
        print(f"wrote {summary['images']} images in {summary['shards']} shards; skipped {summary['skipped']}")
    return summary
