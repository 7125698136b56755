#!/usr/bin/env python
"""Prepare face images for face/train.py: sharded TFRecords, or a decoded face cache.

  python face/prepare.py --images CASIA-WebFace-aligned/ --out data/casia-webface-tfrecords
  python face/prepare.py --images CASIA-WebFace/ --list train.txt --landmarks casia_landmark.txt --out ...
  python face/prepare.py --images CASIA-WebFace-aligned/ --format cache --out data/casia-webface-cache

--format jpeg (default) or png writes TFRecords (≈4 KB a face, read by tf.data; needs
TensorFlow). --format cache writes the faces decoded (32 KB a face, ≈16 GB for
CASIA-WebFace) into one memory-mapped file: no decoding at training time and no
TensorFlow, fast enough to feed a GPU; the JAX backend's input.

Input: a folder of identity sub-folders (root/<identity>/<image>), or --list with
`relative/path label` lines. With --landmarks (`path x1 y1 … x5 y5` per line) each
face is aligned onto the 96×112 five-point template; otherwise images are taken as
aligned and resized to 112×96 if needed. Unreadable images are skipped and counted.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)


from sphereface_tf import cli  # noqa: E402
from sphereface_tf.cli import positive_int  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="image root (identity sub-folders, or the root of --list paths)")
    parser.add_argument("--list", help="list file of 'relative/path label' lines (default: scan identity folders)")
    parser.add_argument("--landmarks", help="5-point landmark list to align with (path then 10 numbers per line)")
    parser.add_argument("--out", required=True, help="output folder for the shards, labels.json and summary.json")
    parser.add_argument("--shards", type=positive_int, default=64, help="number of TFRecord shards (default 64)")
    parser.add_argument("--min-images", type=positive_int, default=1, help="drop identities with fewer images (default 1: keep all)")
    parser.add_argument("--format", choices=["jpeg", "png", "cache"], default="jpeg",
                        help="jpeg/png: TFRecord shards with that encoding; cache: decoded faces (default jpeg)")
    parser.add_argument("--workers", type=positive_int, help="decoding threads for --format cache (default: the CPU count)")
    args = parser.parse_args(argv)

    from sphereface_tf.align import read_landmarks
    from sphereface_tf.errors import check_output_dir
    from sphereface_tf.facedata import drop_small_identities, read_list_file, scan_identity_folders, write_cache, write_tfrecords

    check_output_dir(args.out)
    faces = read_list_file(args.list, args.images) if args.list else scan_identity_folders(args.images)
    if args.min_images > 1:
        faces = drop_small_identities(faces, args.min_images)
    landmarks = read_landmarks(args.landmarks) if args.landmarks else None
    print(f"{len(faces)} images of {len(faces.names)} identities → {args.out}")
    if args.format == "cache":
        summary = write_cache(faces, args.out, landmarks=landmarks, workers=args.workers)
        print(f"wrote {summary['images']} decoded faces ({summary['bytes'] / 2**30:.2f} GiB); skipped {summary['skipped']}")
    else:
        summary = write_tfrecords(faces, args.out, shards=args.shards, landmarks=landmarks, image_format=args.format)
        print(f"wrote {summary['images']} images in {summary['shards']} shards; skipped {summary['skipped']}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main(main))
