"""Face data: folder and list layouts, TFRecord round trip, corrupt images, the tf.data pipeline."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.face.data import (
    FaceDataError,
    drop_small_identities,
    make_dataset,
    read_list_file,
    scan_identity_folders,
    write_tfrecords,
)
from sphereface_tf.face.synthetic import identity_pattern, make_identity_folders


@pytest.fixture
def faces_root(tmp_path):
    root = tmp_path / "faces"
    make_identity_folders(root, identities=5, per_identity=6)
    return root


def _read_all(data_dir):
    images, labels = [], []
    for (x, _), y in make_dataset(data_dir, batch_size=7, training=False, deterministic=True):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_scan_identity_folders(faces_root):
    faces = scan_identity_folders(faces_root)
    assert len(faces) == 30 and faces.names == [f"id_{i:03d}" for i in range(5)]
    assert np.bincount(faces.labels).tolist() == [6] * 5
    assert faces.keys[0] == "id_000/0000.jpg"


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "someone").mkdir(parents=True)
    with pytest.raises(FaceDataError, match="no images found; expected identity sub-folders"):
        scan_identity_folders(tmp_path / "empty")
    with pytest.raises(FaceDataError, match="image folder not found"):
        scan_identity_folders(tmp_path / "nope")


def test_list_file(faces_root, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("id_001/0000.jpg 1\nid_002/0001.png 2\n\n")
    faces = read_list_file(listing, faces_root)
    assert faces.labels.tolist() == [1, 2] and faces.keys == ["id_001/0000.jpg", "id_002/0001.png"]
    listing.write_text("id_001/0000.jpg 1\nid_009/0000.jpg 9\n")
    with pytest.raises(FaceDataError, match=r"list.txt:2: image .*id_009/0000.jpg does not exist"):
        read_list_file(listing, faces_root)
    listing.write_text("id_001/0000.jpg one\n")
    with pytest.raises(FaceDataError, match=r"list.txt:1: expected 'path label'"):
        read_list_file(listing, faces_root)


def test_tfrecord_round_trip_preserves_pixels_and_labels(faces_root, tmp_path):
    faces = scan_identity_folders(faces_root)
    summary = write_tfrecords(faces, tmp_path / "png", shards=3, image_format="png", progress=False)
    assert summary["images"] == 30 and summary["skipped"] == 0 and sum(summary["per_shard"]) == 30
    images, labels = _read_all(str(tmp_path / "png"))
    originals = {(int(y), img.tobytes()) for y, img in zip(faces.labels, (np.asarray(Image.open(p).convert("RGB")) for p in faces.paths))}
    assert {(int(y), img.tobytes()) for y, img in zip(labels, images)} == originals  # lossless, every image once
    assert json.load(open(tmp_path / "png" / "labels.json")) == {f"id_{i:03d}": i for i in range(5)}
    write_tfrecords(faces, tmp_path / "jpg", shards=2, progress=False)
    jpeg_images, jpeg_labels = _read_all(str(tmp_path / "jpg"))
    assert sorted(jpeg_labels.tolist()) == sorted(faces.labels.tolist())
    assert jpeg_images.dtype == np.uint8 and jpeg_images.shape == (30, 112, 96, 3)


def test_jpeg_is_close_to_original(tmp_path):
    smooth = identity_pattern(0).astype(np.uint8)  # JPEG keeps smooth images, not pixel noise
    (tmp_path / "one" / "a").mkdir(parents=True)
    Image.fromarray(smooth).save(tmp_path / "one" / "a" / "x.png")
    write_tfrecords(scan_identity_folders(tmp_path / "one"), tmp_path / "rec", shards=1, progress=False)
    images, _ = _read_all(str(tmp_path / "rec"))
    assert np.abs(images[0].astype(int) - smooth.astype(int)).mean() < 2.0


def test_corrupt_images_are_skipped_and_counted_grayscale_is_rgb(faces_root, tmp_path):
    (faces_root / "id_000" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    Image.fromarray(np.full((112, 96), 77, np.uint8), mode="L").save(faces_root / "id_001" / "gray.png")
    Image.fromarray(np.full((250, 250, 3), 10, np.uint8)).save(faces_root / "id_002" / "big.jpg")
    summary = write_tfrecords(scan_identity_folders(faces_root), tmp_path / "rec", shards=2, image_format="png", progress=False)
    assert summary["images"] == 32 and summary["skipped"] == 1 and "broken.jpg" in summary["skipped_examples"][0]
    images, _ = _read_all(str(tmp_path / "rec"))
    assert any((img == 77).all() for img in images)  # grayscale expanded to 3 equal channels
    assert images.shape[1:] == (112, 96, 3)  # the 250×250 image was resized


def test_drop_small_identities(faces_root):
    for extra in range(4):
        os.remove(faces_root / "id_003" / f"{extra:04d}.{('jpg', 'png', 'bmp')[extra % 3]}")
    faces = drop_small_identities(scan_identity_folders(faces_root), min_images=5)
    assert faces.names == ["id_000", "id_001", "id_002", "id_004"]
    assert sorted(set(faces.labels.tolist())) == [0, 1, 2, 3]


def test_training_pipeline_shapes_and_all_identities(faces_root, tmp_path):
    write_tfrecords(scan_identity_folders(faces_root), tmp_path / "rec", shards=3, progress=False)
    ds = make_dataset(str(tmp_path / "rec"), batch_size=8, training=True, deterministic=True, seed=3)
    seen = set()
    for (images, labels), targets in ds.take(12):  # repeats forever
        assert images.shape == (8, 112, 96, 3) and images.dtype == "uint8" and labels.dtype == "int32"
        np.testing.assert_array_equal(labels.numpy(), targets.numpy())
        seen.update(labels.numpy().tolist())
    assert seen == set(range(5))
    def first_batches(seed):
        ds = make_dataset(str(tmp_path / "rec"), 8, deterministic=True, seed=seed)
        return [(x.numpy().tobytes(), y.numpy().tolist()) for (x, y), _ in ds.take(4)]

    assert first_batches(3) == first_batches(3)  # deterministic mode repeats exactly, flips included
    assert first_batches(3) != first_batches(4)


def test_resumed_stream_continues_where_the_run_left_it(faces_root, tmp_path):
    # 32 images, batch 8: 4 batches an epoch, so batches 5.. lie in the reshuffled second and third epochs
    write_tfrecords(scan_identity_folders(faces_root), tmp_path / "rec", shards=3, progress=False)

    def batches(start, count):
        ds = make_dataset(str(tmp_path / "rec"), 8, deterministic=True, seed=3, start_batch=start)
        return [(x.numpy().tobytes(), y.numpy().tolist()) for (x, y), _ in ds.take(count)]

    straight = batches(0, 10)
    assert batches(5, 5) == straight[5:]  # same images, same flips, same order
    assert batches(5, 5) != straight[:5]
    with pytest.raises(ValueError, match="only a training dataset"):
        make_dataset(str(tmp_path / "rec"), 8, training=False, start_batch=2)


def test_missing_shards_error(tmp_path):
    with pytest.raises(FaceDataError, match=r"not a prepared face data set \(no faces-\*.tfrecord shards.*python face/prepare.py"):
        make_dataset(str(tmp_path), 4)


def test_load_faces_resizes_reports_it_and_names_missing_landmarks(tmp_path):
    from sphereface_tf.face.data import FaceDataError, load_faces

    make_identity_folders(tmp_path / "a", identities=1, per_identity=2, size=(112, 96))
    make_identity_folders(tmp_path / "b", identities=1, per_identity=2, size=(120, 100))
    keys = ["id_000/0000.jpg", "id_000/0001.png"]
    for root, expect_resized in (("a", False), ("b", True)):
        images, resized = load_faces([str(tmp_path / root / k) for k in keys], keys)
        assert images.shape == (2, 112, 96, 3) and images.dtype == np.uint8 and resized is expect_resized
    with pytest.raises(FaceDataError, match=r"no landmarks for 1 image\(s\) in marks.txt, e.g. id_000/0001.png"):
        load_faces([str(tmp_path / "a" / k) for k in keys], keys, {keys[0]: np.zeros((5, 2))}, where=" in marks.txt")
