"""Five landmarks for every face of an identity-folder tree, found by MTCNN (Zhang et al. 2016, the paper's detector).

    from sphereface_tf.face.landmarks import detect_landmarks
    summary = detect_landmarks("lfw-deepfunneled", "lfw_landmark_mtcnn.txt", fallback="lfw_landmark.txt")

Writes `Name/Name_0001.jpg x1 y1 … x5 y5` per line (left eye, right eye, nose, mouth
left, mouth right): the format of `lfw_landmark.txt`, of `read_landmarks` and of the
aligned-tree writer (`sphereface_tf.face.align.write_aligned_tree`). Where an image holds
several faces, the one whose box centre is nearest the image centre is the subject (LFW's
rule). An image without a detection keeps its `fallback` landmarks; without them the run
stops with the image's name. With a fallback the summary also says how far the two sets
lie apart: SphereFace's `lfw_landmark.txt` was made on the original LFW photographs, and
deep-funneled LFW is the same photographs warped, so there it misses by a few pixels
(docs/face.md, "Landmarks").

Progress is appended to `<out>.partial` as each batch ends; an interrupted run resumes from
it. The output file is written atomically at the end. MTCNN is an optional dependency
(`pip install mtcnn`; its weights come in the wheel, it runs on TensorFlow).
"""

import os
import time

import numpy as np

from sphereface_tf.face.align import LandmarkError, read_landmarks
from sphereface_tf.face.data import scan_identity_folders
from sphereface_tf.face.data.sources import read_rgb
from sphereface_tf.util.errors import InputError
from sphereface_tf.util.files import atomic_write

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


class NoFaceFound(LandmarkError):
    """MTCNN found no face in some images and no fallback landmarks cover them; `.missing` lists them."""

    def __init__(self, missing):
        self.missing = missing
        super().__init__(f"MTCNN found no face in {len(missing)} image(s), e.g. {missing[0]}, and no fallback "
                         f"landmarks are given for them; give a fallback landmark file that covers these images")


def central_face(detections, shape):
    """The five points (5, 2) of the detection whose box centre is nearest the image centre, or None."""
    if not detections:
        return None
    cy, cx = shape[0] / 2.0, shape[1] / 2.0

    def distance(face):
        x, y, w, h = face["box"]
        return (x + w / 2.0 - cx) ** 2 + (y + h / 2.0 - cy) ** 2

    best = min(detections, key=distance)
    return np.array([best["keypoints"][k] for k in KEYPOINTS], np.float64)


def format_line(key, points):
    """One line of a landmark file: the relative path and the ten coordinates, tab-separated."""
    return key + "\t" + "\t".join(f"{v:.2f}" for v in np.asarray(points).ravel()) + "\n"


def read_partial(path):
    """Landmarks of an interrupted run (a torn last line is dropped) and the keys it found no face in."""
    found, missed = {}, set()
    if os.path.isfile(path):
        with open(path, "rb+") as handle:  # cut a torn last line, so that appending starts on a line of its own
            text = handle.read()
            handle.truncate(text.rfind(b"\n") + 1)
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                if line.endswith("\n") and len(fields) == 11:
                    found[fields[0]] = np.array([float(v) for v in fields[1:]]).reshape(5, 2)
                elif line.endswith("\n") and len(fields) == 2 and fields[1] == "none":
                    missed.add(fields[0])
    return found, missed


def compare(found, reference):
    """How far `found` lies from `reference` (common keys): per-image mean point distance, also ÷ eye distance."""
    keys = sorted(set(found) & set(reference))
    if not keys:
        return None
    a, b = np.stack([found[k] for k in keys]), np.stack([reference[k] for k in keys])
    error = np.linalg.norm(a - b, axis=2).mean(1)
    eyes = np.linalg.norm(b[:, 0] - b[:, 1], axis=1)
    return dict(images=len(keys), median_px=float(np.median(error)), p90_px=float(np.percentile(error, 90)),
                median_per_eye_distance=float(np.median(error / eyes)), median_eye_distance_px=float(np.median(eyes)))


def load_detector():
    """MTCNN on the CPU, or an InputError saying how to install it."""
    try:
        from mtcnn import MTCNN
    except ImportError:
        raise InputError("landmark detection needs MTCNN, which is not installed: pip install mtcnn") from None
    return MTCNN(device="CPU:0")


def detect_landmarks(images, out, fallback=None, batch_size=32, limit=0, log=print, detector=None):
    """Detect the five points of every image under `images` (identity folders) and write them to `out`.

    Returns a summary: `images`, `detected`, `kept_fallback` (images that kept their fallback
    points), `out`, and `gap` (`compare` of the detections against the fallback, or None).
    `limit` > 0 takes only the first `limit` images (a quick look).
    """
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    keys = scan_identity_folders(images).keys
    if limit:
        keys = keys[:limit]
    reference = read_landmarks(fallback) if fallback else {}
    partial = os.fspath(out) + ".partial"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    found, missed = read_partial(partial)
    todo = [k for k in keys if k not in found and k not in missed]
    log(f"{len(keys)} images; {len(keys) - len(todo)} done in {partial}; {len(todo)} to detect")
    if todo and detector is None:
        detector = load_detector()
    started = time.perf_counter()
    with open(partial, "a") as record:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            pictures = [read_rgb(os.path.join(images, k)) for k in batch]
            shapes = {picture.shape for picture in pictures}
            results = (detector.detect_faces(pictures) if len(shapes) == 1
                       else [detector.detect_faces(picture) for picture in pictures])
            for key, picture, detections in zip(batch, pictures, results):
                points = central_face(detections, picture.shape)
                if points is None:
                    missed.add(key)
                    record.write(f"{key}\tnone\n")
                else:
                    found[key] = points
                    record.write(format_line(key, points))
            record.flush()
            done = start + len(batch)
            if done % (batch_size * 20) < batch_size or done == len(todo):
                rate = done / (time.perf_counter() - started)
                log(f"{done}/{len(todo)} images, {rate:.1f}/s, {len(missed)} without a face")
    lost = sorted(k for k in missed & set(keys) if k not in reference)
    if lost:
        raise NoFaceFound(lost)
    with atomic_write(out) as handle:
        for key in keys:
            handle.write(format_line(key, found[key] if key in found else reference[key]))
    os.remove(partial)
    kept = sum(1 for k in keys if k not in found)
    gap = compare({k: found[k] for k in keys if k in found}, reference)
    return dict(images=len(keys), detected=len(keys) - kept, kept_fallback=kept, out=os.fspath(out), gap=gap)
