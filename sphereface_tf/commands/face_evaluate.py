"""LFW-protocol verification of a trained model.

  python face/evaluate.py --model runs/x/model.keras --pairs pairs.txt --images lfw-aligned/ --out runs/x/lfw
  python face/evaluate.py ... --landmarks lfw_landmark.txt    # align raw LFW images first (points detected on
                                                              # these very images: sphereface-landmarks)

Features as in the paper: FC1 of the image and of its mirror image, concatenated and
L2-normalised; cosine similarity; 10-fold cross-validation with the threshold chosen
on nine folds and scored on the tenth (a one-fold pairs file is split into stratified
sub-folds, and the report says so). Also TAR at FAR 1e-3 / 1e-2 and ROC AUC.
Writes roc.png, scores.png, hardest.png (the worst mistakes) and, last, report.json;
every file is written whole (temporary name, then renamed). A model whose weights or
embeddings are NaN or inf is refused (exit status 2), never scored.
Any pairs file in the LFW format works (your own verification set too).
"""

import argparse

from sphereface_tf.face.protocol import evaluate_model
from sphereface_tf.util import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog=cli.program("sphereface-evaluate", "face/evaluate.py"), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training or embedding model)")
    parser.add_argument("--pairs", required=True, help="pairs file in the LFW format")
    parser.add_argument("--images", required=True, help="image root in LFW's Name/Name_0001.jpg layout")
    parser.add_argument("--landmarks", help="5-point landmarks (path then 10 numbers) to align with")
    parser.add_argument("--out", required=True, help="output folder for the report and figures")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64)
    args = parser.parse_args(argv)
    report = evaluate_model(args.model, args.pairs, args.images, landmarks=args.landmarks, out=args.out,
                            batch_size=args.batch_size)
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"accuracy {report['accuracy_mean']:.4f} ± {report['accuracy_std']:.4f} over {report['folds']} folds, "
          f"AUC {report['roc_auc']:.4f}, TAR@FAR=1e-3 {report['tar_at_far']['1e-3']:.4f}; "
          f"{report['pairs_per_second']} pairs/s → {args.out}")
    return 0


def entry():
    """Console script `sphereface-evaluate`."""
    return cli.main(main)
