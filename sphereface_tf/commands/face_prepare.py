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

from sphereface_tf.face.data import prepare_faces
from sphereface_tf.util import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-prepare", "face/prepare.py"), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="image root (identity sub-folders, or the root of --list paths)")
    parser.add_argument("--list", help="list file of 'relative/path label' lines (default: scan identity folders)")
    parser.add_argument("--landmarks", help="5-point landmark list to align with (path then 10 numbers per line)")
    parser.add_argument("--out", required=True, help="output folder for the shards, labels.json and summary.json")
    parser.add_argument("--shards", type=cli.positive_int, default=64, help="number of TFRecord shards (default 64)")
    parser.add_argument("--min-images", type=cli.positive_int, default=1, help="drop identities with fewer images (default 1: keep all)")
    parser.add_argument("--format", choices=["jpeg", "png", "cache"], default="jpeg",
                        help="jpeg/png: TFRecord shards with that encoding; cache: decoded faces (default jpeg)")
    parser.add_argument("--workers", type=cli.positive_int, help="decoding threads for --format cache (default: the CPU count)")
    args = parser.parse_args(argv)
    prepare_faces(args.images, args.out, list_file=args.list, landmarks=args.landmarks, min_images=args.min_images,
                  format=args.format, shards=args.shards, workers=args.workers)
    return 0


def entry():
    """Console script `sphereface-prepare`."""
    return cli.main(main)
