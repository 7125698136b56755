"""Face data: identity folders or list files → sharded TFRecords → a `tf.data` pipeline.

Layouts read:
  * a folder of identity sub-folders (`root/<identity>/<image>.jpg`, as aligned CASIA-WebFace);
  * a list file of `relative/path.jpg label` lines (paths relative to an image root).

`write_tfrecords` stores each face as a 112×96 RGB JPEG with its integer label,
aligning it first when 5-point landmarks are given. Unreadable images are
skipped and counted, never fatal. The label map (identity → label) is written
beside the shards as `labels.json`.
"""

import collections
import dataclasses
import json
import os

import numpy as np

from sphereface_tf.align import CROP_SIZE, align_face
from sphereface_tf.io import write_json

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
HEIGHT, WIDTH = CROP_SIZE[1], CROP_SIZE[0]


class FaceDataError(ValueError):
    """Missing or malformed face data; the message names the file, folder or line."""


@dataclasses.dataclass
class FaceList:
    paths: list  # absolute image paths
    labels: np.ndarray  # int64
    names: list  # identity name of each label
    keys: list  # path relative to the image root (for landmark look-up)

    def __len__(self):
        return len(self.paths)


def scan_identity_folders(root):
    """Images under `root/<identity>/`, labels by sorted identity name."""
    if not os.path.isdir(root):
        raise FaceDataError(f"{root}: image folder not found")
    identities = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    paths, labels, keys = [], [], []
    for label, identity in enumerate(identities):
        for name in sorted(os.listdir(os.path.join(root, identity))):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                keys.append(f"{identity}/{name}")
                paths.append(os.path.join(root, identity, name))
                labels.append(label)
    if not paths:
        raise FaceDataError(
            f"{root}: no images found; expected identity sub-folders holding "
            f"{'/'.join(IMAGE_EXTENSIONS)} files (root/<identity>/<image>)"
        )
    return FaceList(paths, np.asarray(labels, np.int64), identities, keys)


def read_list_file(list_path, root):
    """`relative/path label` per line; every named file must exist."""
    if not os.path.isfile(list_path):
        raise FaceDataError(f"{list_path}: list file not found")
    paths, labels, keys = [], [], []
    with open(list_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise FaceDataError(f"{list_path}:{number}: expected 'path label', got {line.strip()[:120]!r}")
            if int(fields[1]) < 0:
                raise FaceDataError(f"{list_path}:{number}: labels must be >= 0, got {fields[1]}")
            path = os.path.join(root, fields[0])
            if not os.path.isfile(path):
                raise FaceDataError(f"{list_path}:{number}: image {path} does not exist")
            keys.append(fields[0])
            paths.append(path)
            labels.append(int(fields[1]))
    if not paths:
        raise FaceDataError(f"{list_path}: the list file names no images")
    labels = np.asarray(labels, np.int64)
    return FaceList(paths, labels, [str(i) for i in range(labels.max() + 1)], keys)


def drop_small_identities(faces, min_images):
    """Keep identities with at least `min_images` images; relabel 0…K−1 in order."""
    counts = collections.Counter(faces.labels.tolist())
    kept = sorted(label for label, n in counts.items() if n >= min_images)
    if not kept:
        raise FaceDataError(f"no identity has {min_images} or more images")
    new_label = {old: new for new, old in enumerate(kept)}
    keep = [i for i, label in enumerate(faces.labels) if label in new_label]
    return FaceList(
        [faces.paths[i] for i in keep], np.asarray([new_label[faces.labels[i]] for i in keep], np.int64),
        [faces.names[old] for old in kept], [faces.keys[i] for i in keep],
    )


def read_rgb(path):
    """An image file as RGB uint8 (grayscale expanded to 3 channels)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def fit_face(image, landmarks=None):
    """Align (with 5 landmarks) or resize an RGB image to the 112×96 crop."""
    from PIL import Image

    if landmarks is not None:
        return align_face(image, landmarks)
    if image.shape[:2] != (HEIGHT, WIDTH):
        image = np.asarray(Image.fromarray(image).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR))
    return image


def load_face(path, landmarks=None):
    """Read an image and align or resize it to 112×96 RGB uint8."""
    return fit_face(read_rgb(path), landmarks)


def load_faces(paths, keys, landmarks=None, where=""):
    """Read images and align them (landmarks: dict key → 5 points) or resize them to 112×96.

    Returns `(images, resized)`: uint8 (N, 112, 96, 3) and whether any image had to
    be resized. Every key must have landmarks when they are given; `where` names
    the source in the error.
    """
    if landmarks is not None:
        missing = [key for key in keys if key not in landmarks]
        if missing:
            raise FaceDataError(f"no landmarks for {len(missing)} image(s){where}, e.g. {missing[0]}")
    images, resized = [], False
    for path, key in zip(paths, keys):
        image = read_rgb(path)
        resized |= landmarks is None and image.shape[:2] != (HEIGHT, WIDTH)
        images.append(fit_face(image, None if landmarks is None else landmarks[key]))
    return np.stack(images), resized


def write_tfrecords(faces, out_dir, shards=8, landmarks=None, image_format="jpeg", quality=95, progress=True):
    """Write `faces` as `out_dir/faces-XXXXX-of-YYYYY.tfrecord` shards (round-robin).

    `image_format`: "jpeg" (default, ~4 KB a face) or "png" (lossless, ~5× larger).

    Returns a summary dict (written as `summary.json`), with the number of
    images written and of unreadable images skipped.
    """
    import tensorflow as tf
    from keras.utils import Progbar

    if image_format not in ("jpeg", "png"):
        raise ValueError(f"`image_format` must be 'jpeg' or 'png', got {image_format!r}")
    os.makedirs(out_dir, exist_ok=True)
    shards = max(1, min(int(shards), len(faces)))
    names = [os.path.join(out_dir, f"faces-{i:05d}-of-{shards:05d}.tfrecord") for i in range(shards)]
    partial = [name + ".partial" for name in names]
    writers = [tf.io.TFRecordWriter(p) for p in partial]
    skipped, missing_landmarks, written = [], 0, np.zeros(shards, np.int64)
    bar = Progbar(len(faces), unit_name="image") if progress else None
    try:
        for index, (path, label, key) in enumerate(zip(faces.paths, faces.labels, faces.keys)):
            points = None
            if landmarks is not None:
                points = landmarks.get(key)
                if points is None:
                    missing_landmarks += 1
                    skipped.append((path, "no landmarks"))
                    continue
            try:
                image = load_face(path, points)
            except Exception as err:  # PIL raises several types for corrupt files
                skipped.append((path, f"{type(err).__name__}: {err}"))
                continue
            if image_format == "jpeg":
                encoded = tf.io.encode_jpeg(image, quality=quality).numpy()
            else:
                encoded = tf.io.encode_png(image).numpy()
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            }))
            shard = index % shards
            writers[shard].write(example.SerializeToString())
            written[shard] += 1
            if bar is not None:
                bar.update(index + 1)
    finally:
        for writer in writers:
            writer.close()
    for p, name in zip(partial, names):
        os.replace(p, name)
    summary = dict(
        images=int(written.sum()), skipped=len(skipped), skipped_examples=[f"{p}: {why}" for p, why in skipped[:20]],
        missing_landmarks=missing_landmarks, identities=len(faces.names), shards=shards,
        per_shard=written.tolist(), image_size=[HEIGHT, WIDTH, 3], image_format=image_format, aligned=landmarks is not None,
    )
    write_json(os.path.join(out_dir, "labels.json"), {name: label for label, name in enumerate(faces.names)})
    write_json(os.path.join(out_dir, "summary.json"), summary)
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s), e.g. {skipped[0][0]} ({skipped[0][1]})")
    return summary


def tfrecord_files(data_dir):
    import glob

    files = sorted(glob.glob(os.path.join(data_dir, "faces-*-of-*.tfrecord")))
    if not files:
        raise FaceDataError(f"{data_dir}: no faces-*.tfrecord shards; run `python face/prepare.py` first")
    return files


def num_classes(data_dir):
    with open(os.path.join(data_dir, "labels.json"), encoding="utf-8") as handle:
        return len(json.load(handle))


def make_dataset(data_dir, batch_size, training=True, deterministic=False, seed=0, shuffle_buffer=10000,
                 with_labels_input=True, start_batch=0):
    """`tf.data` pipeline over the shards: interleaved reads, parallel decode, flip, shuffle, batch, prefetch.

    Yields `((images, labels), labels)` for a model taking labels as its second
    input (`with_labels_input=True`), else `(images, labels)`. Images are uint8
    112×96×3; normalisation happens inside the model so exported models take raw
    pixels. Training datasets repeat forever; `deterministic=True` fixes the
    order (for tests and exact resumes).

    `start_batch` (training only) starts the endless stream where a run that has
    already taken that many steps left it: the same seeded shuffles run and the
    first `start_batch * batch_size` records are dropped before decoding (so they
    cost a read, not a decode), and each image keeps its stream index, hence its
    flip. With `deterministic=True` a resumed run sees exactly the batches of an
    uninterrupted one.
    """
    import tensorflow as tf

    if start_batch and not training:
        raise ValueError(f"start_batch={start_batch}: only a training dataset (an endless stream) can start mid-way")
    files = tfrecord_files(data_dir)
    autotune = tf.data.AUTOTUNE
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8), num_parallel_calls=autotune)
    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

    def decode(record):
        example = tf.io.parse_single_example(record, spec)
        image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
        image = tf.ensure_shape(image, (HEIGHT, WIDTH, 3))
        return image, tf.cast(example["label"], tf.int32)  # uint8 images; the model normalises

    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
        ds = ds.enumerate().skip(int(start_batch) * batch_size)  # resume: drop the records already trained on

        def decode_and_flip(index, record):  # a stateless flip seeded by the record's stream index
            image, label = decode(record)
            return tf.image.stateless_random_flip_left_right(image, tf.stack([tf.constant(seed, tf.int64), index])), label

        ds = ds.map(decode_and_flip, num_parallel_calls=autotune)
    else:
        ds = ds.map(decode, num_parallel_calls=autotune)
    ds = ds.batch(batch_size, drop_remainder=training)
    if with_labels_input:
        ds = ds.map(lambda images, labels: ((images, labels), labels))
    return ds.prefetch(autotune).with_options(options)
