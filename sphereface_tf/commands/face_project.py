"""Face embeddings of an image folder for TensorBoard's Projector tab.

  python face/project.py --model runs/x/model.keras --images lfw-aligned/ --out runs/x/projector
  tensorboard --logdir runs/x/projector        # Projector tab: one point per face

Reads `DIR/<identity>/<image>` (aligned with --landmarks, or resized to 112×96),
embeds each face as face/evaluate.py does (FC1 of image and mirror, L2-normalised),
and writes the embeddings, the identity name of each face as metadata and the
faces as sprite thumbnails.
"""

import argparse

from sphereface_tf.face.projection import project_faces
from sphereface_tf.util import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-project", "face/project.py"), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training, embedding or exported model)")
    parser.add_argument("--images", required=True, help="image folder of identity sub-folders")
    parser.add_argument("--out", required=True, help="log folder to write the projector files into")
    parser.add_argument("--landmarks", help="5-point landmarks (path then 10 numbers) to align with")
    parser.add_argument("--per-identity", type=cli.positive_int, default=None, help="at most N images of each identity")
    parser.add_argument("--thumbnail-width", type=cli.positive_int, default=48,
                        help="sprite thumbnail width in pixels (default 48: 56×48)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64)
    args = parser.parse_args(argv)
    config, faces, identities = project_faces(args.model, args.images, args.out, landmarks=args.landmarks,
                                              per_identity=args.per_identity, thumbnail_width=args.thumbnail_width,
                                              batch_size=args.batch_size)
    print(f"{faces} faces of {identities} identities → {config}\n"
          f"  tensorboard --logdir {args.out}   (Projector tab; colour by 'identity')")
    return 0


def entry():
    """Console script `sphereface-project`."""
    return cli.main(main)
