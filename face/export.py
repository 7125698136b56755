#!/usr/bin/env python
"""Export a trained face model for deployment: no classification head, uint8 images in.

  python face/export.py --model runs/x/model.keras --out runs/x/export

Writes (never overwriting):
  embedding.keras   keras.models.load_model(path) after `import sphereface_tf`
  saved_model/      tf.saved_model.load(path).serve(uint8 images) — no code of ours
                    needed; signature 'serving_default' for TensorFlow Serving
Both map uint8 images (N, 112, 96, 3), already aligned, to the paper's features:
FC1 of the image and of its mirror image, concatenated and L2-normalised
(1024 numbers for SphereNet; --no-flip for FC1 alone). Cosine similarity = dot product.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)

from sphereface_tf import cli  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training or embedding model)")
    parser.add_argument("--out", required=True, help="output folder (must not hold an earlier export)")
    parser.add_argument("--no-flip", action="store_true", help="FC1 of the image alone, without the mirror image")
    args = parser.parse_args(argv)
    from sphereface_tf.embed import load_embedding_model
    from sphereface_tf.errors import InputError, check_output_dir
    from sphereface_tf.export import export_embedding

    check_output_dir(args.out)
    if os.path.isdir(args.out) and os.listdir(args.out):
        raise InputError(f"--out {args.out}: holds files already (an earlier export?); exports are never overwritten, "
                         "choose a new folder")
    keras_path, saved_model = export_embedding(load_embedding_model(args.model), args.out, flip=not args.no_flip)
    print(f"wrote {keras_path}\n      {saved_model}  (signature 'serving_default': uint8 'images' (N, 112, 96, 3) → 'output_0')")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main(main))
