"""The decoded face cache: written faithfully, streamed as a pure function of the batch number, refused when damaged."""

import json
import os

import numpy as np
import pytest

from sphereface_tf.face.data import (
    CacheBatches,
    FaceCache,
    FaceDataError,
    load_face,
    scan_identity_folders,
    training_input,
    write_cache,
)
from sphereface_tf.face.data.cache import FACE_BYTES
from sphereface_tf.face.synthetic import make_identity_folders

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    make_identity_folders(root / "images", identities=5, per_identity=8, size=(120, 100))  # resized on the way in
    (root / "images" / "id_002" / "broken.jpg").write_bytes(b"not a jpeg")
    faces = scan_identity_folders(str(root / "images"))
    summary = write_cache(faces, str(root / "cache"), workers=3, progress=False)
    return faces, str(root / "cache"), summary


def test_cache_holds_every_readable_face_in_order_and_skips_the_broken_one(cache):
    faces, path, summary = cache
    opened = FaceCache(path)
    assert summary["images"] == len(opened) == len(faces) - 1 == 40 and summary["skipped"] == 1
    assert "broken.jpg" in summary["skipped_examples"][0]
    readable = [i for i, p in enumerate(faces.paths) if not p.endswith("broken.jpg")]
    for row, i in enumerate(readable):  # the gap left by the broken image is closed, order kept
        np.testing.assert_array_equal(opened.images[row], load_face(faces.paths[i]))
        assert opened.labels[row] == faces.labels[i]
    assert opened.num_classes == 5 and os.path.getsize(os.path.join(path, "faces.u8")) == 40 * FACE_BYTES
    assert not os.path.exists(os.path.join(path, "faces.u8.partial"))


def _stream(path, start, count, **kwargs):
    stream = iter(CacheBatches(path, 16, seed=3, start_batch=start, workers=2, **kwargs))
    return [next(stream) for _ in range(count)]


def test_stream_is_a_pure_function_of_the_batch_number(cache):
    _, path, _ = cache
    straight = _stream(path, 0, 10)
    resumed = _stream(path, 6, 4)
    assert len(straight[6:]) == len(resumed) == 4
    for (a, _), (b, _) in zip(straight[6:], resumed, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(straight[0][0][0], straight[6][0][0])


def test_each_epoch_visits_every_face_once_in_a_new_order_with_about_half_flipped(cache):
    _, path, _ = cache
    stream = CacheBatches(path, 8, seed=3)  # 40 faces: 5 batches an epoch
    images = FaceCache(path).images
    orders = []
    for epoch in range(3):
        index = np.concatenate([stream.positions(g)[0] for g in range(5 * epoch, 5 * epoch + 5)])
        assert sorted(index.tolist()) == list(range(40))
        orders.append(index.tolist())
    assert len({tuple(order) for order in orders}) == 3  # each epoch its own order (a chained != skips 0 vs 2)
    (batch, labels), _ = stream.batch(7)
    index, flips = stream.positions(7)
    for row, (i, flip) in enumerate(zip(index, flips)):
        np.testing.assert_array_equal(batch[row], images[i][:, ::-1] if flip else images[i])
    flips_all = np.concatenate([stream.positions(g)[1] for g in range(50)])
    assert 0.4 < flips_all.mean() < 0.6
    # a batch crossing the epoch boundary (40 faces, batch 16: batch 2 = stream positions 32..47)
    crossing = CacheBatches(path, 16, seed=3)
    index = crossing.positions(2)[0]
    np.testing.assert_array_equal(index[:8], crossing.epoch(0)[0][32:])
    np.testing.assert_array_equal(index[8:], crossing.epoch(1)[0][:8])


def test_process_shards_split_the_global_batch(cache):
    _, path, _ = cache
    (whole, labels), _ = CacheBatches(path, 16, seed=1).batch(3)
    parts = [CacheBatches(path, 16, seed=1, shard=(k, 4)).batch(3)[0] for k in range(4)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), labels)
    with pytest.raises(FaceDataError, match="multiple of the 3 processes"):
        CacheBatches(path, 16, shard=(0, 3))


def test_training_input_picks_the_format(cache, tmp_path):
    _, path, _ = cache
    stream, kind = training_input(path, 8)
    assert kind == "cache"
    (images, labels), target = next(stream)
    assert images.shape == (8, 112, 96, 3) and images.dtype == np.uint8 and labels.dtype == np.int32
    with pytest.raises(FaceDataError, match="not a prepared face data set"):
        training_input(str(tmp_path), 8)
    with pytest.raises(FaceDataError, match="data folder not found"):
        training_input(str(tmp_path / "nowhere"), 8)


def _copy(path, dest):
    import shutil

    shutil.copytree(path, dest)
    return str(dest)


DAMAGED_CACHES = [
    (lambda d: os.truncate(os.path.join(d, "faces.u8"), 5 * FACE_BYTES + 7), "truncated: 161,287 bytes where 40 faces"),
    (lambda d: open(os.path.join(d, "faces.u8"), "ab").write(b"x"), "longer than its manifest says"),
    (lambda d: os.unlink(os.path.join(d, "faces.u8")), "faces.u8: missing"),
    (lambda d: os.rename(os.path.join(d, "cache.json"), os.path.join(d, "x")), "not a face cache"),
    (lambda d: (os.unlink(os.path.join(d, "cache.json")), os.rename(os.path.join(d, "faces.u8"), os.path.join(d, "faces.u8.partial"))),
     "unfinished face cache"),
    (lambda d: open(os.path.join(d, "cache.json"), "w").write("{not json"), "damaged manifest"),
    (lambda d: _edit_manifest(d, version=99), "version 99"),
    (lambda d: _edit_manifest(d, shape=[64, 64, 3]), r"shape \(64, 64, 3\)"),
    (lambda d: np.save(os.path.join(d, "labels.npy"), np.arange(40) % 7), r"labels span \[0, 6\] but labels.json names 5"),
    (lambda d: np.save(os.path.join(d, "labels.npy"), np.zeros(39, np.int32)), r"shape \(39,\), expected \(40,\)"),
    (lambda d: np.save(os.path.join(d, "labels.npy"), np.zeros(40, np.float32)), "float32 labels"),
    (lambda d: open(os.path.join(d, "labels.npy"), "wb").write(b"\x93NUMPY garbage"), "labels.npy: unreadable"),
]


@pytest.mark.parametrize("damage, message", DAMAGED_CACHES)
def test_a_damaged_cache_is_refused_with_what_and_what_to_do(cache, tmp_path, damage, message):
    _, path, _ = cache
    copy = _copy(path, tmp_path / "c")
    damage(copy)
    with pytest.raises(FaceDataError, match=message) as info:
        FaceCache(copy)
    assert "face/prepare.py" in str(info.value)


def _edit_manifest(directory, **changes):
    path = os.path.join(directory, "cache.json")
    manifest = json.load(open(path))
    manifest.update(changes)
    json.dump(manifest, open(path, "w"))


def test_rewriting_a_cache_replaces_it_whole(cache, tmp_path):
    faces, path, _ = cache
    copy = _copy(path, tmp_path / "c")
    from sphereface_tf.face.data import FaceList

    few = FaceList(faces.paths[:3], faces.labels[:3], faces.names, faces.keys[:3])
    assert write_cache(few, copy, workers=1, progress=False)["images"] == 3
    assert len(FaceCache(copy)) == 3
