"""Write an aligned copy of a face tree: each image warped by its five landmarks to 112×96, saved as JPEG.

  sphereface-landmarks --images lfw-deepfunneled --out lfw_landmark_mtcnn.txt      # the points, if you have none
  sphereface-align --images lfw-deepfunneled --landmarks lfw_landmark_mtcnn.txt --out lfw-aligned

Every image the landmark file names (paths relative to --images) is aligned onto
SphereFace's template and written as a JPEG (quality 90, optimised Huffman tables) under
--out with the same relative path: ≈ 40 MB for LFW, small enough to carry to a lent GPU.
The other commands align raw images themselves (--landmarks); this does it once. A rerun
skips the faces already written, so an interrupted run resumes.
"""

import argparse

from sphereface_tf.face.data.aligned import write_aligned_tree
from sphereface_tf.util import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-align", "face/align.py"), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="identity folders: Name/Name_0001.jpg")
    parser.add_argument("--landmarks", required=True, help="lines of a relative path and 10 numbers (x y of 5 points)")
    parser.add_argument("--out", required=True, help="folder of the aligned tree")
    parser.add_argument("--quality", type=cli.positive_int, default=90, help="JPEG quality, 1 to 95 (default 90)")
    parser.add_argument("--workers", type=cli.positive_int, default=None, help="processes (default: one per core)")
    args = parser.parse_args(argv)
    written, there = write_aligned_tree(args.images, args.landmarks, args.out, quality=args.quality, workers=args.workers)
    print(f"{written} faces aligned, {there} already there, in {args.out}")
    return 0


def entry():
    """Console script `sphereface-align`."""
    return cli.main(main)
