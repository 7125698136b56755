"""Prepared format 1: sharded TFRecords of 112×96 JPEG (or PNG) faces, read by a `tf.data` pipeline.

Small on disk (≈4 KB a face) and read with TensorFlow's own machinery: the format
for TensorFlow users and small disks. Decoding JPEGs costs CPU (≈8–10k images/s on
two cores); `sphereface_tf.face.data.cache` stores decoded faces instead.
"""

import glob
import os

import numpy as np

from sphereface_tf.face.data.sources import (
    HEIGHT,
    WIDTH,
    FaceDataError,
    iter_faces,
    skip_summary,
    write_label_map,
)
from sphereface_tf.util.faults import fault_point
from sphereface_tf.util.files import write_json
from sphereface_tf.util.progress import ProgressBar


def write_tfrecords(faces, out_dir, shards=8, landmarks=None, image_format="jpeg", quality=95, progress=True):
    """Write `faces` as `out_dir/faces-XXXXX-of-YYYYY.tfrecord` shards (round-robin).

    `image_format`: "jpeg" (default, ~4 KB a face) or "png" (lossless, ~5× larger).

    Returns a summary dict (written as `summary.json`), with the number of
    images written and of unreadable images skipped.
    """
    try:
        import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)
    except ImportError as err:
        raise FaceDataError(f"{out_dir}: TFRecords are written with TensorFlow, which is not installed; write a decoded "
                            "cache instead (face/prepare.py --format cache)") from err

    if image_format not in ("jpeg", "png"):
        raise ValueError(f"`image_format` must be 'jpeg' or 'png', got {image_format!r}")
    os.makedirs(out_dir, exist_ok=True)
    # a data set written here before (perhaps with another shard count) is replaced whole, never mixed in
    for stale in glob.glob(os.path.join(out_dir, "faces-*-of-*.tfrecord*")) + [os.path.join(out_dir, "summary.json")]:
        if os.path.exists(stale):
            os.unlink(stale)
    shards = max(1, min(int(shards), len(faces)))
    names = [os.path.join(out_dir, f"faces-{i:05d}-of-{shards:05d}.tfrecord") for i in range(shards)]
    partial = [name + ".partial" for name in names]
    writers = [tf.io.TFRecordWriter(p) for p in partial]
    skipped, written = [], np.zeros(shards, np.int64)
    bar = ProgressBar(len(faces), "image") if progress else None
    complete = False
    try:
        for index, image, label in iter_faces(faces, landmarks, skipped):
            if written.sum() == 1:
                fault_point("prepare")
            if image_format == "jpeg":
                encoded = tf.io.encode_jpeg(image, quality=quality).numpy()
            else:
                encoded = tf.io.encode_png(image).numpy()
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }))
            shard = index % shards
            writers[shard].write(example.SerializeToString())
            written[shard] += 1
            if bar is not None:
                bar.update(index + 1)
        complete = True
    finally:
        for writer in writers:
            writer.close()
        if bar is not None:
            bar.close()
        if not complete:  # interrupted (Ctrl-C, SIGTERM) or failed: no partial shards are left behind
            for p in partial:
                if os.path.exists(p):
                    os.unlink(p)
    if not written.sum():
        for p in partial:
            os.unlink(p)
        raise FaceDataError(f"none of the {len(faces)} images could be read, e.g. {skipped[0][0]} ({skipped[0][1]})")
    for p, name in zip(partial, names):
        os.replace(p, name)
    fields, report = skip_summary(skipped)
    summary = dict(
        format="tfrecords", images=int(written.sum()), **fields, identities=len(faces.names), shards=shards,
        per_shard=written.tolist(), image_size=[HEIGHT, WIDTH, 3], image_format=image_format, aligned=landmarks is not None,
    )
    write_label_map(out_dir, faces.names)
    write_json(os.path.join(out_dir, "summary.json"), summary)  # last: a data set without it is unfinished
    if report:
        print(report)
    return summary


def tfrecord_files(data_dir):
    files = sorted(glob.glob(os.path.join(data_dir, "faces-*-of-*.tfrecord")))
    if not files:
        raise FaceDataError(f"{data_dir}: not a prepared face data set (no faces-*.tfrecord shards, no cache.json); "
                            f"write one with `python face/prepare.py --images <folder> --out {data_dir}`")
    return files


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
    import tensorflow as tf  # deferred: TensorFlow is optional (JAX backend)

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
