#!/usr/bin/env python
"""Face embeddings of an image folder for TensorBoard's Projector tab.

  python face/project.py --model runs/x/model.keras --images lfw-aligned/ --out runs/x/projector
  tensorboard --logdir runs/x/projector        # Projector tab: one point per face

Reads `DIR/<identity>/<image>` (aligned with --landmarks, or resized to 112×96),
embeds each face as face/evaluate.py does (FC1 of image and mirror, L2-normalised),
and writes the embeddings, the identity name of each face as metadata and the
faces as sprite thumbnails.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)

from sphereface_tf import cli  # noqa: E402


def thumbnails(images, width):
    """Shrink (N, H, W, 3) uint8 faces to `width` pixels wide, keeping the aspect ratio."""
    import numpy as np
    from PIL import Image

    height = round(images.shape[1] * width / images.shape[2])
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)) for image in images])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training, embedding or exported model)")
    parser.add_argument("--images", required=True, help="image folder of identity sub-folders")
    parser.add_argument("--out", required=True, help="log folder to write the projector files into")
    parser.add_argument("--landmarks", help="5-point landmarks (path then 10 numbers) to align with")
    parser.add_argument("--per-identity", type=cli.positive_int, default=None, help="at most N images of each identity")
    parser.add_argument("--thumbnail-width", type=cli.positive_int, default=48,
                        help="sprite thumbnail width in pixels (default 48: 56×48)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64)
    args = parser.parse_args(argv)

    from sphereface_tf.align import read_landmarks
    from sphereface_tf.embed import embed, load_embedding_model, load_folder
    from sphereface_tf.errors import check_keras_file, check_output_dir
    from sphereface_tf.facedata import FACE_SHAPE
    from sphereface_tf.projector import write_projector

    check_output_dir(args.out)
    check_keras_file(args.model)
    landmarks = read_landmarks(args.landmarks) if args.landmarks else None
    images, faces = load_folder(args.images, landmarks, args.per_identity)
    model = load_embedding_model(args.model, image_shape=FACE_SHAPE)
    features = embed(model, images, batch_size=args.batch_size)
    config = write_projector(
        args.out, features,
        {"identity": [faces.names[label] for label in faces.labels], "image": faces.keys},
        images=thumbnails(images, args.thumbnail_width),
    )
    print(f"{len(features)} faces of {len(set(faces.labels.tolist()))} identities → {config}\n"
          f"  tensorboard --logdir {args.out}   (Projector tab; colour by 'identity')")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main(main))
