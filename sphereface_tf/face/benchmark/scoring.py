"""A fold's verification: the embeddings of its pairs, cosine and centred scores, the ROC kept in its record."""

import numpy as np

from sphereface_tf.face.embed import compare
from sphereface_tf.face.protocol import pair_features, pair_files, verify, verify_centered

ROC_POINTS = 200  # points of each fold's ROC kept in its JSON


def fold_features(backbone, images, pairs, faces, fold, batch_size=256):
    """The embeddings of fold `fold`'s pairs (first faces, second faces) and whether each pair is the same person."""
    chosen = [p for p in pairs if p.fold + 1 == fold]
    position = {key: i for i, key in enumerate(faces.keys)}
    files = pair_files(chosen)
    return pair_features(backbone, chosen, files, images[[position[f] for f in files]], batch_size)


def score_fold(first, second, same):
    """A fold's verification record: cosine scores (the headline) and, under "centered", the official
    evaluation's scores on centred features; both with stratified sub-folds of the fold's pairs."""
    folds = np.zeros(len(same), int)
    plain, centered = verify(compare(first, second), same, folds), verify_centered(first, second, same, folds)
    return dict(_scored(plain), notes=plain["notes"], centered=_scored(centered))


def _scored(result):
    """The figures of a `verify` result that a fold's record keeps."""
    return dict(accuracy=result["accuracy_mean"], accuracy_std_subfolds=result["accuracy_std"], roc_auc=result["roc_auc"],
                tar_at_far=result["tar_at_far"], roc=_curve(result["roc"]["fpr"], result["roc"]["tpr"]))


def _curve(fpr, tpr, points=ROC_POINTS):
    """The ROC at `points` false-accept rates, log-spaced (where verification is judged)."""
    grid = np.concatenate([[0.0], np.logspace(-4, 0, points - 1)])
    return dict(fpr=grid.tolist(), tpr=np.interp(grid, fpr, tpr).tolist())
