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

from sphereface_tf.face.export import export_model_file
from sphereface_tf.util import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-export", "face/export.py"), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training or embedding model)")
    parser.add_argument("--out", required=True, help="output folder (must not hold an earlier export)")
    parser.add_argument("--no-flip", action="store_true", help="FC1 of the image alone, without the mirror image")
    args = parser.parse_args(argv)
    keras_path, saved_model = export_model_file(args.model, args.out, flip=not args.no_flip)
    print(f"wrote {keras_path}\n      {saved_model}  (signature 'serving_default': uint8 'images' (N, 112, 96, 3) → 'output_0')")
    return 0


def entry():
    """Console script `sphereface-export`."""
    return cli.main(main)
