"""Detect five landmarks on every face of an identity-folder tree with MTCNN, the paper's detector.

  pip install mtcnn                  # Zhang et al. 2016; weights in the wheel, runs on TensorFlow
  sphereface-landmarks --images lfw-deepfunneled --out lfw_landmark_mtcnn.txt --fallback lfw_landmark.txt

Writes `Name/Name_0001.jpg x1 y1 … x5 y5` per line (left eye, right eye, nose, mouth left,
mouth right): the format of SphereFace's `lfw_landmark.txt` and of every --landmarks option
(sphereface-align, -prepare, -evaluate, -benchmark). Where an image holds several faces,
the one nearest the image centre is the subject. An image without a detection keeps its
--fallback landmarks; without --fallback the run stops with its name. With --fallback it
also prints how far the two sets lie apart (SphereFace's lfw_landmark.txt fits the original
LFW photographs, not the deep-funneled ones: docs/face.md, "Landmarks").
Progress goes to `<out>.partial` batch by batch; an interrupted run resumes from it.
"""

import argparse

from sphereface_tf.face.landmarks import NoFaceFound, detect_landmarks
from sphereface_tf.util import cli
from sphereface_tf.util.errors import InputError


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-landmarks", "face/landmarks.py"), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="identity folders: Name/Name_0001.jpg")
    parser.add_argument("--out", required=True, help="landmark file to write")
    parser.add_argument("--fallback", help="landmark file whose points an image keeps where MTCNN finds no face")
    parser.add_argument("--batch-size", type=cli.positive_int, default=32, help="images per MTCNN call (same-size images batch)")
    parser.add_argument("--limit", type=cli.positive_int, default=0, help="only the first N images (a quick look)")
    args = parser.parse_args(argv)
    try:
        summary = detect_landmarks(args.images, args.out, fallback=args.fallback, batch_size=args.batch_size,
                                   limit=args.limit, log=print)
    except NoFaceFound as err:
        raise InputError(f"MTCNN found no face in {len(err.missing)} image(s), e.g. {err.missing[0]}, and --fallback "
                         f"gives none for them; pass --fallback with landmarks for these images") from None
    print(f"{summary['detected']} images detected, {summary['kept_fallback']} kept their --fallback landmarks; "
          f"wrote {summary['out']}")
    gap = summary["gap"]
    if gap:
        print(f"MTCNN against {args.fallback} on {gap['images']} images: median {gap['median_px']:.2f} px "
              f"(90th percentile {gap['p90_px']:.2f}), {gap['median_per_eye_distance']:.3f} of the eye distance "
              f"(median {gap['median_eye_distance_px']:.1f} px)")
    return 0


def entry():
    """Console script `sphereface-landmarks`."""
    return cli.main(main)
