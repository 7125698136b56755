"""Prepared format 2: decoded 112×96 RGB faces in one memory-mapped file, read in batches by NumPy.

Training then needs no TensorFlow and no image decoding: a batch is a gather of
rows from the page cache (32,256 bytes a face; CASIA-WebFace's 494k faces are
≈16 GB), done by a few threads (NumPy releases the GIL while it copies). It is the
input path for GPUs: on JAX, on TensorFlow, and for several processes.

Files in the cache folder:

* `faces.u8` — the faces, raw uint8 of shape (N, 112, 96, 3), C order;
* `labels.npy` — int32 labels (N,);
* `labels.json`, `summary.json` — as for the TFRecords;
* `cache.json` — the manifest (format, version, N, shape); written last, so a cache
  without it is an unfinished one.

The training stream is a pure function of (seed, batch number): epoch e visits the
faces in the permutation drawn from `default_rng([seed, e])`, each face flipped or
not by a coin from the same generator, and batch g holds stream positions
[g·B, (g+1)·B), crossing epoch boundaries without dropping anything. A resumed
run therefore starts at its batch at no cost and sees exactly the batches of an
uninterrupted run.
"""

import collections
import concurrent.futures
import json
import os
import threading

import numpy as np

from sphereface_tf.face.data.sources import (
    FACE_SHAPE,
    HEIGHT,
    WIDTH,
    FaceDataError,
    FaceList,
    iter_faces,
    num_classes,
    skip_summary,
    write_label_map,
)
from sphereface_tf.util.faults import fault_point
from sphereface_tf.util.files import atomic_write, write_json
from sphereface_tf.util.progress import ProgressBar

MANIFEST = "cache.json"
IMAGES = "faces.u8"
LABELS = "labels.npy"
FORMAT = "sphereface_tf decoded face cache"
VERSION = 1
FACE_BYTES = HEIGHT * WIDTH * 3


def is_cache(data_dir):
    return os.path.isfile(os.path.join(data_dir, MANIFEST)) or os.path.isfile(os.path.join(data_dir, IMAGES + ".partial"))


def write_cache(faces, out_dir, landmarks=None, workers=None, progress=True):
    """Decode, align (with landmarks) or resize every face of `faces` into a cache in `out_dir`.

    Images are decoded by `workers` threads (default: the CPU count) straight into
    the memory-mapped `faces.u8.partial`, which is renamed once complete; unreadable
    images are skipped and counted, as for the TFRecords. Returns the summary dict.
    """
    os.makedirs(out_dir, exist_ok=True)
    for name in (MANIFEST, IMAGES, LABELS):  # an older cache here is replaced, never half-mixed with this one
        if os.path.exists(os.path.join(out_dir, name)):
            os.unlink(os.path.join(out_dir, name))
    partial = os.path.join(out_dir, IMAGES + ".partial")
    total = len(faces)
    images = np.memmap(partial, np.uint8, "w+", shape=(max(total, 1), *FACE_SHAPE))
    ok = np.zeros(total, bool)
    skipped = []
    workers = workers or os.cpu_count() or 1
    chunks = [range(start, min(start + 256, total)) for start in range(0, total, 256)]

    def decode_chunk(chunk, images=images):  # each thread writes its own rows; the skip list is per chunk
        lost = []
        sub = FaceList([faces.paths[i] for i in chunk], faces.labels[chunk], faces.names, [faces.keys[i] for i in chunk])
        for local, image, _ in iter_faces(sub, landmarks, lost):
            images[chunk[local]] = image
            ok[chunk[local]] = True
        return len(chunk), lost

    bar = ProgressBar(total, "face") if progress else None
    done, finished = 0, False
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        for count, lost in pool.map(decode_chunk, chunks):
            skipped.extend(lost)
            done += count
            if bar is not None:
                bar.update(done)
            fault_point("prepare")
        finished = ok.any()
    finally:  # interrupted (Ctrl-C, SIGTERM), failed or nothing readable: stop the threads, leave no partial file
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
        if not finished:
            del images
            os.unlink(partial)
    if not finished:
        raise FaceDataError(f"none of the {total} images could be read, e.g. {skipped[0][0]} ({skipped[0][1]})")
    kept = np.flatnonzero(ok)
    if len(kept) < total:  # close the gaps left by skipped images, in order
        for new, old in enumerate(kept):
            if new != old:
                images[new] = images[old]
    images.flush()
    del images
    os.truncate(partial, len(kept) * FACE_BYTES)
    labels = np.asarray(faces.labels, np.int32)[kept]
    with atomic_write(os.path.join(out_dir, LABELS), "wb") as handle:
        np.save(handle, labels)
    os.replace(partial, os.path.join(out_dir, IMAGES))
    fields, report = skip_summary(skipped)
    summary = dict(format="cache", images=int(len(kept)), **fields, identities=len(faces.names),
                   bytes=int(len(kept) * FACE_BYTES), image_size=list(FACE_SHAPE), aligned=landmarks is not None)
    write_label_map(out_dir, faces.names)
    write_json(os.path.join(out_dir, "summary.json"), summary)
    write_manifest(out_dir, len(kept))
    if report:
        print(report)
    return summary


def write_manifest(out_dir, count):
    """`cache.json`: the last file of a cache; its presence says the cache is complete."""
    write_json(os.path.join(out_dir, MANIFEST), dict(format=FORMAT, version=VERSION, count=int(count),
                                                     shape=list(FACE_SHAPE), dtype="uint8", images=IMAGES, labels=LABELS))


class FaceCache:
    """A decoded face cache opened read-only: `images` (N, 112, 96, 3) uint8 memmap, `labels` (N,) int32.

    Everything is checked on opening, so that a bad cache fails at once with a
    message that says what is wrong and what to do, not as a crash mid-training.
    """

    def __init__(self, data_dir):
        self.data_dir = data_dir
        again = f"run `python face/prepare.py --format cache --out {data_dir}` again"
        manifest_path = os.path.join(data_dir, MANIFEST)
        if not os.path.isfile(manifest_path):
            if os.path.isfile(os.path.join(data_dir, IMAGES + ".partial")):
                raise FaceDataError(f"{data_dir}: an unfinished face cache (face/prepare.py was interrupted); {again}")
            raise FaceDataError(f"{data_dir}: not a face cache (no {MANIFEST}); write one with "
                                f"`python face/prepare.py --images <folder> --format cache --out {data_dir}`")
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
            count = int(manifest["count"])
            shape = tuple(manifest["shape"])
            fmt, version = manifest["format"], manifest["version"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            raise FaceDataError(f"{manifest_path}: damaged manifest ({type(err).__name__}: {err}); {again}") from err
        if fmt != FORMAT or version != VERSION:
            raise FaceDataError(f"{manifest_path}: format {fmt!r} version {version!r}, this code reads "
                                f"{FORMAT!r} version {VERSION}; {again}")
        if shape != FACE_SHAPE or count < 1:
            raise FaceDataError(f"{manifest_path}: {count} faces of shape {shape}, expected ≥ 1 of {FACE_SHAPE}; {again}")
        images_path = os.path.join(data_dir, IMAGES)
        if not os.path.isfile(images_path):
            raise FaceDataError(f"{images_path}: missing; {again}")
        size, expected = os.path.getsize(images_path), count * FACE_BYTES
        if size != expected:
            what = "truncated" if size < expected else "longer than its manifest says"
            raise FaceDataError(f"{images_path}: {what}: {size:,} bytes where {count:,} faces × {FACE_BYTES:,} = "
                                f"{expected:,} were written; {again}")
        labels_path = os.path.join(data_dir, LABELS)
        try:
            labels = np.load(labels_path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise FaceDataError(f"{labels_path}: unreadable ({type(err).__name__}: {err}); {again}") from err
        if labels.shape != (count,) or labels.dtype.kind not in "iu":
            raise FaceDataError(f"{labels_path}: {labels.dtype} labels of shape {labels.shape}, expected ({count},) "
                                f"integers; {again}")
        self.num_classes = num_classes(data_dir)
        if count and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise FaceDataError(f"{labels_path}: labels span [{labels.min()}, {labels.max()}] but labels.json names "
                                f"{self.num_classes} identities; {again}")
        self.labels = labels.astype(np.int32, copy=False)
        self.images = np.memmap(images_path, np.uint8, "r", shape=(count, *FACE_SHAPE))

    def __len__(self):
        return len(self.labels)


class FaceArrays:
    """Faces held in memory with the interface of `FaceCache`: `images` (N, 112, 96, 3) uint8, `labels` (N,) int32."""

    def __init__(self, images, labels, num_classes=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.dtype != np.uint8 or images.shape[1:] != FACE_SHAPE or labels.shape != (len(images),):
            raise FaceDataError(f"faces must be uint8 {FACE_SHAPE} images with one label each; got {images.dtype} "
                                f"{images.shape} and labels {labels.shape}")
        self.images, self.labels = images, labels.astype(np.int32)
        self.num_classes = int(num_classes if num_classes is not None else labels.max() + 1)

    def __len__(self):
        return len(self.labels)


class CacheBatches:
    """The endless, seeded training stream over a `FaceCache` (or `FaceArrays`), in batches of `batch_size` faces.

    Iterating yields `((images, labels), labels)` NumPy batches (or `(images, labels)`
    with `with_labels_input=False`) from batch `start_batch` on, assembled ahead by
    `workers` threads, `prefetch` batches deep, in order. `shard=(index, count)`
    keeps this process's rows of each global batch (multi-process training: each
    process feeds its slice of the global batch).
    """

    def __init__(self, cache, batch_size, seed=0, start_batch=0, shard=(0, 1), workers=None, prefetch=None,
                 with_labels_input=True, flip=True):
        if isinstance(cache, (str, os.PathLike)):
            cache = FaceCache(cache)
        index, count = shard
        if batch_size % count:
            raise FaceDataError(f"batch size {batch_size} must be a multiple of the {count} processes (each feeds "
                                "an equal slice of the global batch)")
        self.cache, self.batch_size, self.seed = cache, int(batch_size), int(seed)
        self.start_batch, self.flip, self.with_labels_input = int(start_batch), flip, with_labels_input
        self.local = slice(index * batch_size // count, (index + 1) * batch_size // count)
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.prefetch = prefetch or 2 * self.workers
        self._epochs = collections.OrderedDict()
        self._lock = threading.Lock()

    def epoch(self, e):
        """(permutation, flips) of epoch `e`."""
        with self._lock:
            if e not in self._epochs:
                rng = np.random.default_rng([self.seed, e])
                n = len(self.cache)
                self._epochs[e] = (rng.permutation(n), rng.random(n) < 0.5)
                while len(self._epochs) > 3:
                    self._epochs.popitem(last=False)
            return self._epochs[e]

    def positions(self, g):
        """Face indices and flips of this process's rows of global batch `g`."""
        n = len(self.cache)
        stream = np.arange(g * self.batch_size, (g + 1) * self.batch_size, dtype=np.int64)[self.local]
        epochs, offsets = np.divmod(stream, n)
        index, flips = np.empty(len(stream), np.int64), np.empty(len(stream), bool)
        for e in np.unique(epochs):
            order, coins = self.epoch(int(e))
            rows = epochs == e
            index[rows], flips[rows] = order[offsets[rows]], coins[offsets[rows]]
        return index, flips

    def batch(self, g):
        index, flips = self.positions(g)
        images = np.take(self.cache.images, index, axis=0)
        if self.flip and flips.any():  # mirror whole 3-byte pixels: ≈2× faster than a uint8 strided copy
            pixels = images.view("V3").reshape(images.shape[:3])
            rows = np.flatnonzero(flips)
            pixels[rows] = pixels[rows, :, ::-1]
        labels = self.cache.labels[index]
        return ((images, labels), labels) if self.with_labels_input else (images, labels)

    def __iter__(self):
        pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="face-cache")
        pending = collections.deque()
        g = self.start_batch
        try:
            while True:
                while len(pending) < self.prefetch:
                    pending.append(pool.submit(self.batch, g))
                    g += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
