#!/usr/bin/env python
"""LFW-protocol verification of a trained model.

  python face/evaluate.py --model runs/x/model.keras --pairs pairs.txt --images lfw-aligned/ --out runs/x/lfw
  python face/evaluate.py ... --landmarks lfw_landmark.txt    # align raw LFW images first

Features as in the paper: FC1 of the image and of its mirror image, concatenated and
L2-normalised; cosine similarity; 10-fold cross-validation with the threshold chosen
on nine folds and scored on the tenth. Also TAR at FAR 1e-3 / 1e-2 and ROC AUC.
Writes roc.png, scores.png, hardest.png (the worst mistakes) and, last, report.json;
every file is written whole (temporary name, then renamed).
Any pairs file in the LFW format works (your own verification set too).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SPHEREFACE_TF_QUIET_NATIVE_LOGS", "1")  # drop TensorFlow's native start-up lines (see sphereface_tf/_native_log.py)

from sphereface_tf import cli  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".keras file from face/train.py (training or embedding model)")
    parser.add_argument("--pairs", required=True, help="pairs file in the LFW format")
    parser.add_argument("--images", required=True, help="image root in LFW's Name/Name_0001.jpg layout")
    parser.add_argument("--landmarks", help="5-point landmarks (path then 10 numbers) to align with")
    parser.add_argument("--out", required=True, help="output folder for the report and figures")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64)
    args = parser.parse_args(argv)

    import numpy as np

    from sphereface_tf.align import read_landmarks
    from sphereface_tf.embed import compare, embed, load_embedding_model
    from sphereface_tf.errors import InputError, check_keras_file, check_output_dir
    from sphereface_tf.facedata import FACE_SHAPE, load_faces
    from sphereface_tf.io import fault_point, save_figure, write_json
    from sphereface_tf.plotting import plot_pair_grid, plot_roc, plot_score_histogram
    from sphereface_tf.verification import kfold_accuracy, read_pairs, roc_auc, roc_curve, tar_at_far

    check_output_dir(args.out)
    check_keras_file(args.model)  # before minutes of image reading
    pairs = read_pairs(args.pairs)
    landmarks = read_landmarks(args.landmarks) if args.landmarks else None
    if not os.path.isdir(args.images):
        raise InputError(f"--images {args.images}: image folder not found")
    files = sorted({p.first for p in pairs} | {p.second for p in pairs})
    missing = [f for f in files if not os.path.isfile(os.path.join(args.images, f))]
    if missing:
        raise InputError(f"{len(missing)} image(s) named in {args.pairs} are missing under --images {args.images}, "
                         f"e.g. {missing[0]}; check that --images is the root of the Name/Name_0001.jpg folders")
    started = time.perf_counter()
    images, resized = load_faces([os.path.join(args.images, f) for f in files], files, landmarks,
                                 where=f" in {args.landmarks} (images named in {args.pairs})")
    model = load_embedding_model(args.model, image_shape=FACE_SHAPE)
    features = dict(zip(files, embed(model, images, batch_size=args.batch_size)))
    pixels = dict(zip(files, images))
    scores = np.array([compare(features[p.first], features[p.second]) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    result = kfold_accuracy(scores, same, folds)
    fpr, tpr, _ = roc_curve(scores, same)
    auc = roc_auc(scores, same)
    elapsed = time.perf_counter() - started
    negatives = int(np.sum(~same))
    notes = [f"only {negatives} mismatched pairs: FAR {far} means fewer than one false accept, so TAR@FAR={far} "
             f"is the true accept rate at zero false accepts" for far in ("1e-3", "1e-2") if negatives * float(far) < 1]
    if resized:
        notes.append("images are not 112×96; they were resized (give --landmarks to align instead)")
    report = dict(
        model=args.model, pairs_file=args.pairs, pairs=len(pairs), matched_pairs=len(pairs) - negatives,
        mismatched_pairs=negatives, images=len(files),
        aligned_with_landmarks=landmarks is not None,
        resized_to_112x96=resized, accuracy_mean=result["mean"], accuracy_std=result["std"],
        fold_accuracies=result["folds"], thresholds=result["thresholds"], roc_auc=auc,
        tar_at_far={"1e-3": tar_at_far(scores, same, 1e-3), "1e-2": tar_at_far(scores, same, 1e-2)},
        seconds=round(elapsed, 2), pairs_per_second=round(len(pairs) / elapsed, 1), notes=notes,
    )
    os.makedirs(args.out, exist_ok=True)
    save_figure(plot_roc(fpr, tpr, auc), os.path.join(args.out, "roc.png"))
    fault_point("evaluate")
    save_figure(plot_score_histogram(scores, same, result["thresholds"]), os.path.join(args.out, "scores.png"))
    threshold = float(np.median(result["thresholds"]))
    wrong = np.flatnonzero((scores > threshold) != same)
    wrong = wrong[np.argsort(-np.abs(scores[wrong] - threshold))]
    save_figure(plot_pair_grid(
        [(pixels[pairs[i].first], pixels[pairs[i].second]) for i in wrong],
        [f"{'same' if pairs[i].same else 'different'}, cos {scores[i]:.2f}" for i in wrong],
    ), os.path.join(args.out, "hardest.png"))
    write_json(os.path.join(args.out, "report.json"), report)  # last: an --out without it holds no finished evaluation
    for note in notes:
        print(f"note: {note}")
    print(f"accuracy {result['mean']:.4f} ± {result['std']:.4f}, AUC {auc:.4f}, "
          f"TAR@FAR=1e-3 {report['tar_at_far']['1e-3']:.4f}; {report['pairs_per_second']} pairs/s → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.main(main))
