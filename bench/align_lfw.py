#!/usr/bin/env python
"""Align every face of an LFW-layout tree with its five landmarks into 112×96 JPEGs, for a device call.

  python bench/align_lfw.py --images lfw-deepfunneled --landmarks landmarks_mtcnn.txt --out data/lfw/aligned_mtcnn
  (landmarks detected on these images: bench/detect_landmarks.py; SphereFace's lfw_landmark.txt fits the original LFW)

face/benchmark.py aligns raw images itself (--landmarks); this writes the aligned tree once,
small enough to carry to a lent GPU (≈ 40 MB for LFW's 13,233 faces): JPEG quality 90 with
optimised Huffman tables (the same pixels as without them, ≈ 11 % smaller). Each file is
written atomically; a rerun skips the faces already written.
"""

import argparse
import os
from concurrent.futures import ProcessPoolExecutor

from PIL import Image

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import load_face
from sphereface_tf.util.files import atomic_write


def align_one(job):
    source, target, points, quality = job
    if os.path.isfile(target):
        return 0
    face = load_face(source, points)
    with atomic_write(target, "wb") as handle:  # makes the person's folder too
        Image.fromarray(face).save(handle, format="JPEG", quality=quality, optimize=True)
    return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", required=True, help="LFW layout: Name/Name_0001.jpg")
    parser.add_argument("--landmarks", required=True, help="lines of a relative path and 10 numbers (x y of 5 points)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    landmarks = read_landmarks(args.landmarks)
    missing = [path for path in landmarks if not os.path.isfile(os.path.join(args.images, path))]
    if missing:
        raise SystemExit(f"{args.landmarks}: {len(missing)} of its {len(landmarks)} images are not under "
                         f"{args.images} (first: {missing[0]}); give the folder that holds Name/Name_0001.jpg")
    jobs = [(os.path.join(args.images, path), os.path.join(args.out, path), points, args.quality)
            for path, points in landmarks.items()]
    with ProcessPoolExecutor(args.workers) as pool:
        written = sum(pool.map(align_one, jobs, chunksize=64))
    print(f"{written} faces aligned, {len(jobs) - written} already there, in {args.out}")


if __name__ == "__main__":
    main()
