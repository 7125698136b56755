#!/usr/bin/env python
"""Detect five landmarks on every face of an LFW-layout tree with MTCNN, the paper's detector.

  pip install mtcnn   # Zhang et al. 2016, weights in the wheel; runs on TensorFlow
  python bench/detect_landmarks.py --images lfw-deepfunneled --out data/lfw/landmarks_mtcnn.txt \
      [--fallback lfw_landmark.txt]

Writes `Name/Name_0001.jpg x1 y1 … x5 y5` per line (left eye, right eye, nose, mouth left,
mouth right), the format of `lfw_landmark.txt` and of bench/align_lfw.py's --landmarks.
Where an image holds several faces, the one whose box centre is nearest the image centre
is LFW's subject. An image without a detection keeps its --fallback landmarks (or, without
--fallback, stops the run with its name). With --fallback the script also prints how far the
two sets of landmarks lie apart: SphereFace's `lfw_landmark.txt` was made on the original
LFW images, and deep-funneled LFW is the same photographs warped, so its landmarks miss
there by a few pixels (docs/face.md, "Landmarks").

Progress is appended to `<out>.partial` as each batch ends; an interrupted run resumes from
it. The output file is written atomically at the end.
"""

import argparse
import os
import sys
import time

import numpy as np

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import scan_identity_folders
from sphereface_tf.face.data.sources import read_rgb
from sphereface_tf.util import cli
from sphereface_tf.util.files import atomic_write

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", required=True, help="LFW layout: Name/Name_0001.jpg")
    parser.add_argument("--out", required=True, help="landmark file to write")
    parser.add_argument("--fallback", help="landmark file whose points an image keeps where MTCNN finds no face")
    parser.add_argument("--batch-size", type=int, default=32, help="images per MTCNN call (same-size images batch)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (a quick look)")
    args = parser.parse_args(argv)
    try:
        from mtcnn import MTCNN
    except ImportError:
        raise SystemExit("bench/detect_landmarks.py needs MTCNN: pip install mtcnn") from None
    keys = scan_identity_folders(args.images).keys
    if args.limit:
        keys = keys[: args.limit]
    fallback = read_landmarks(args.fallback) if args.fallback else {}
    partial = args.out + ".partial"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    found, missed = read_partial(partial)
    todo = [k for k in keys if k not in found and k not in missed]
    print(f"{len(keys)} images; {len(keys) - len(todo)} done in {partial}; {len(todo)} to detect", flush=True)
    detector = MTCNN(device="CPU:0")
    started = time.perf_counter()
    with open(partial, "a") as log:
        for start in range(0, len(todo), args.batch_size):
            batch = todo[start:start + args.batch_size]
            images = [read_rgb(os.path.join(args.images, k)) for k in batch]
            shapes = {image.shape for image in images}
            results = (detector.detect_faces(images) if len(shapes) == 1
                       else [detector.detect_faces(image) for image in images])
            for key, image, detections in zip(batch, images, results):
                points = central_face(detections, image.shape)
                if points is None:
                    missed.add(key)
                    log.write(f"{key}\tnone\n")
                else:
                    found[key] = points
                    log.write(format_line(key, points))
            log.flush()
            done = start + len(batch)
            if done % (args.batch_size * 20) < args.batch_size or done == len(todo):
                rate = done / (time.perf_counter() - started)
                print(f"{done}/{len(todo)} images, {rate:.1f}/s, {len(missed)} without a face", flush=True)
    lost = sorted(k for k in missed & set(keys) if k not in fallback)
    if lost:
        raise SystemExit(f"MTCNN found no face in {len(lost)} image(s), e.g. {lost[0]}, and --fallback gives none "
                         f"for them; pass --fallback with landmarks for these images")
    with atomic_write(args.out) as handle:
        for key in keys:
            handle.write(format_line(key, found[key] if key in found else fallback[key]))
    os.remove(partial)
    kept = sum(1 for k in keys if k not in found)
    print(f"{len(keys) - kept} images detected, {kept} kept their --fallback landmarks; wrote {args.out}")
    gap = compare({k: found[k] for k in keys if k in found}, fallback)
    if gap:
        print(f"MTCNN against {args.fallback} on {gap['images']} images: median {gap['median_px']:.2f} px "
              f"(90th percentile {gap['p90_px']:.2f}), {gap['median_per_eye_distance']:.3f} of the eye distance "
              f"(median {gap['median_eye_distance_px']:.1f} px)")


if __name__ == "__main__":
    sys.exit(cli.main(main))  # a missing folder, a malformed --fallback: one line, exit 2; SIGTERM stops cleanly
