"""The LFW verification protocol as one call: pairs → features → 10-fold accuracy, ROC, TAR at FAR.

    from sphereface_tf.face.protocol import evaluate_model
    report = evaluate_model("runs/x/model.keras", "pairs.txt", "lfw-aligned/", out="runs/x/lfw")

Features as in the paper: FC1 of the image and of its mirror image, concatenated and
L2-normalised; cosine similarity; cross-validation over the pairs file's folds with the
threshold chosen on the other folds and scored on each. A pairs file with one fold is
split into stratified sub-folds (said in the report's notes): a threshold is never
chosen on the pairs it is scored on. `verify(scores, same, folds)` is the scoring alone,
for features computed elsewhere; `verify_centered(first, second, same, folds)` scores as
the official SphereFace evaluation does, on features centred on the other folds' mean. A model with non-finite weights or embeddings is refused
(`ModelFileError`), never scored.
"""

import os
import time

import numpy as np

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import FACE_SHAPE, load_faces
from sphereface_tf.face.embed import compare, embed, load_embedding_model
from sphereface_tf.face.plots import plot_pair_grid, plot_roc, plot_score_histogram
from sphereface_tf.face.verification import best_threshold, kfold_accuracy, read_pairs, roc_auc, roc_curve, tar_at_far
from sphereface_tf.util.errors import InputError, check_output_dir
from sphereface_tf.util.faults import fault_point
from sphereface_tf.util.files import save_figure, write_json
from sphereface_tf.util.modelfiles import check_keras_file

SUB_FOLDS = 10
FARS = ("1e-3", "1e-2")


def stratified_folds(same, k=SUB_FOLDS):
    """Fold numbers 0…k−1 that deal matched and mismatched pairs out in turn (each fold gets its share of both)."""
    same = np.asarray(same, bool)
    folds = np.empty(len(same), int)
    for kind in (True, False):
        index = np.flatnonzero(same == kind)
        folds[index] = np.arange(len(index)) % k
    return folds


def cross_validation_folds(same, folds):
    """(folds, notes): the pairs' folds, or, for a single fold, stratified sub-folds of it (said in the notes)."""
    folds = np.asarray(folds)
    if len(np.unique(folds)) > 1:
        return folds, []
    k = min(SUB_FOLDS, int(min(same.sum(), (~same).sum())))
    if k < 2:
        raise InputError("one fold with fewer than 2 matched or mismatched pairs: too few pairs to choose a "
                         "threshold on some and score it on others")
    return stratified_folds(same, k), [
        f"the pairs file has one fold: its pairs were split into {k} stratified sub-folds, each scored "
        f"with the threshold chosen on the other {k - 1} (sub-folds may share people)"]


def verify(scores, same, folds):
    """Accuracy by cross-validation over `folds`, ROC, AUC and TAR at FAR 1e-3 / 1e-2, with notes.

    With a single fold, the pairs are split into stratified sub-folds first (noted).
    """
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    if not np.all(np.isfinite(scores)):
        raise InputError(f"{int(np.sum(~np.isfinite(scores)))} similarity score(s) are not finite; "
                         "the model's embeddings are NaN or inf (did its training diverge?)")
    folds, notes = cross_validation_folds(same, folds)
    result = kfold_accuracy(scores, same, folds)
    return _report(scores, same, result["folds"], result["thresholds"], notes)


def verify_centered(first, second, same, folds):
    """`verify` with the scores of the official SphereFace evaluation: features centred before the cosine.

    `first`, `second`: the embeddings of each pair's faces (rows). For each fold, the mean
    embedding of the other folds' pairs (both faces of each) is subtracted from every
    embedding, and the threshold is chosen on the other folds' centred scores: neither the
    mean nor the threshold ever sees the pairs they score. ROC, AUC and TAR use each pair's
    score from its own fold's turn.
    """
    first, second, same = np.asarray(first, np.float64), np.asarray(second, np.float64), np.asarray(same, bool)
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        raise InputError("embeddings are not finite: the model's weights are NaN or inf (did its training diverge?)")
    folds, notes = cross_validation_folds(same, folds)
    scored, accuracies, thresholds = np.empty(len(same)), [], []
    for fold in np.unique(folds):
        test = folds == fold
        mean = np.concatenate([first[~test], second[~test]]).mean(axis=0)
        scores = compare(first - mean, second - mean)
        threshold, _ = best_threshold(scores[~test], same[~test])
        accuracies.append(float(np.mean((scores[test] > threshold) == same[test])))
        thresholds.append(threshold)
        scored[test] = scores[test]
    return _report(scored, same, accuracies, thresholds, notes + ["features centred on the mean embedding of the "
                                                                  "other folds' pairs (the official evaluation's)"])


def _report(scores, same, accuracies, thresholds, notes):
    fpr, tpr, _ = roc_curve(scores, same)
    negatives = int(np.sum(~same))
    notes = notes + [f"only {negatives} mismatched pairs: FAR {far} means fewer than one false accept, so "
                     f"TAR@FAR={far} is the true accept rate at zero false accepts"
                     for far in FARS if negatives * float(far) < 1]
    return dict(accuracy_mean=float(np.mean(accuracies)), accuracy_std=float(np.std(accuracies)),
                fold_accuracies=list(accuracies), thresholds=list(thresholds), folds=len(accuracies),
                roc_auc=roc_auc(scores, same), tar_at_far={far: tar_at_far(scores, same, float(far)) for far in FARS},
                roc=dict(fpr=fpr, tpr=tpr), notes=notes)


def pair_files(pairs):
    """The image paths the pairs name, each once, sorted."""
    return sorted({p.first for p in pairs} | {p.second for p in pairs})


def pair_features(model, pairs, files, images, batch_size=64):
    """The embeddings of each pair's first and second face (`images[i]` is the face of `files[i]`), and whether
    the pair is one person."""
    features = dict(zip(files, embed(model, images, batch_size=batch_size)))
    first = np.stack([features[p.first] for p in pairs])
    second = np.stack([features[p.second] for p in pairs])
    return first, second, np.array([p.same for p in pairs])


def pair_scores(model, pairs, files, images, batch_size=64):
    """Cosine similarity of each pair's embeddings (`images[i]` is the face of `files[i]`), and whether it is one person."""
    first, second, same = pair_features(model, pairs, files, images, batch_size)
    return compare(first, second), same


def pair_images(pairs, images_root, landmarks=None, pairs_path="pairs file"):
    """The faces the pairs name, aligned or resized: (files, uint8 images, resized?)."""
    if not os.path.isdir(images_root):
        raise InputError(f"--images {images_root}: image folder not found")
    files = pair_files(pairs)
    missing = [f for f in files if not os.path.isfile(os.path.join(images_root, f))]
    if missing:
        raise InputError(f"{len(missing)} image(s) named in {pairs_path} are missing under --images {images_root}, "
                         f"e.g. {missing[0]}; check that --images is the root of the Name/Name_0001.jpg folders")
    images, resized = load_faces([os.path.join(images_root, f) for f in files], files, landmarks,
                                 where=f" (images named in {pairs_path})")
    return files, images, resized


def evaluate_model(model, pairs_path, images_root, landmarks=None, out=None, batch_size=64, model_path=None):
    """Run the protocol for a model (a `.keras` path or a loaded model); returns the report.

    With `out`, writes roc.png, scores.png, hardest.png (the worst mistakes) and, last,
    report.json. `landmarks`: a landmark file path or dict (align raw images) or None.
    """
    if out is not None:
        check_output_dir(out)
    from_file = isinstance(model, (str, os.PathLike))
    if from_file:
        model_path = os.fspath(model)
        check_keras_file(model_path)  # before minutes of image reading
    pairs = read_pairs(pairs_path)
    if isinstance(landmarks, (str, os.PathLike)):
        landmarks = read_landmarks(landmarks)
    started = time.perf_counter()
    files, images, resized = pair_images(pairs, images_root, landmarks, pairs_path)
    if from_file:
        model = load_embedding_model(model_path, image_shape=FACE_SHAPE)
    scores, same = pair_scores(model, pairs, files, images, batch_size)
    result = verify(scores, same, np.array([p.fold for p in pairs]))
    elapsed = time.perf_counter() - started
    if resized:
        result["notes"].append("images are not 112×96; they were resized (give --landmarks to align instead)")
    roc = result.pop("roc")
    report = dict(model=model_path, pairs_file=os.fspath(pairs_path), pairs=len(pairs), matched_pairs=int(same.sum()),
                  mismatched_pairs=int((~same).sum()), images=len(files), aligned_with_landmarks=landmarks is not None,
                  resized_to_112x96=resized, **result, seconds=round(elapsed, 2),
                  pairs_per_second=round(len(pairs) / elapsed, 1))
    if out is not None:
        os.makedirs(out, exist_ok=True)
        save_figure(plot_roc(roc["fpr"], roc["tpr"], report["roc_auc"]), os.path.join(out, "roc.png"))
        fault_point("evaluate")
        save_figure(plot_score_histogram(scores, same, report["thresholds"]), os.path.join(out, "scores.png"))
        pixels = dict(zip(files, images))
        threshold = float(np.median(report["thresholds"]))
        wrong = np.flatnonzero((scores > threshold) != same)
        wrong = wrong[np.argsort(-np.abs(scores[wrong] - threshold))]
        save_figure(plot_pair_grid(
            [(pixels[pairs[i].first], pixels[pairs[i].second]) for i in wrong],
            [f"{'same' if pairs[i].same else 'different'}, cos {scores[i]:.2f}" for i in wrong],
        ), os.path.join(out, "hardest.png"))
        write_json(os.path.join(out, "report.json"), report)  # last: an --out without it holds no finished evaluation
    report["roc"] = roc
    return report
