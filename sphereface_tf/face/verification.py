"""Face verification protocol of LFW: `pairs.txt`, 10-fold accuracy, ROC, TAR at FAR.

`pairs.txt` (Huang et al., LFW technical report): a header `folds n` (or a single `n`
for the dev files), then per fold n matched lines `name i j` followed by n mismatched
lines `name1 i name2 j`. Image i of `name` is `name/name_{i:04d}.jpg`.
"""

import dataclasses
import os

import numpy as np

from sphereface_tf.util.errors import InputError, read_text_lines


class PairsError(InputError):
    """A malformed pairs file; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class Pair:
    first: str  # relative image path
    second: str
    same: bool
    fold: int


def lfw_image(name, index, ext=".jpg"):
    return os.path.join(name, f"{name}_{int(index):04d}{ext}")


def read_pairs(path):
    """Parse an LFW-format pairs file into `Pair`s with their fold numbers."""
    lines = [(n, line.split()) for n, line in enumerate(read_text_lines(path, PairsError, "pairs file"), start=1)
             if line.strip()]
    if not lines:
        raise PairsError(f"{path}: empty pairs file")
    number, header = lines[0]
    if not all(field.isdigit() for field in header) or len(header) not in (1, 2):
        raise PairsError(f"{path}:{number}: header must be 'folds pairs_per_class' or 'pairs_per_class', got {' '.join(header)!r}")
    folds, per_class = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    body = lines[1:]
    if len(body) != folds * 2 * per_class:
        raise PairsError(
            f"{path}: header promises {folds} fold(s) × {2 * per_class} pairs = {folds * 2 * per_class} lines, "
            f"found {len(body)}"
        )
    pairs = []
    for k, (number, fields) in enumerate(body):
        fold, within = divmod(k, 2 * per_class)
        try:
            if len(fields) == 3:
                pair = Pair(lfw_image(fields[0], fields[1]), lfw_image(fields[0], fields[2]), True, fold)
            elif len(fields) == 4:
                pair = Pair(lfw_image(fields[0], fields[1]), lfw_image(fields[2], fields[3]), False, fold)
            else:
                raise ValueError
        except ValueError:
            raise PairsError(
                f"{path}:{number}: expected 'name i j' (same person) or 'name1 i name2 j' (different), "
                f"got {' '.join(fields)!r}"
            ) from None
        if pair.same != (within < per_class):
            kind = "matched" if within < per_class else "mismatched"
            raise PairsError(f"{path}:{number}: expected a {kind} pair here (fold {fold + 1}), got {' '.join(fields)!r}")
        pairs.append(pair)
    return pairs


def best_threshold(scores, same):
    """Threshold on cosine similarity maximising accuracy (score > t ⇒ same)."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # threshold just below s[k]: pairs k… are called "same"
    correct_below = np.concatenate([[0], np.cumsum(~y)])  # true "different" at or below each cut
    correct_above = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    accuracy = (correct_below + correct_above) / len(s)
    cut = int(np.argmax(accuracy))
    edges = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    return float(edges[cut]), float(accuracy[cut])


def kfold_accuracy(scores, same, folds):
    """LFW protocol: for each fold, choose the threshold on the other folds, score this one."""
    scores, same, folds = np.asarray(scores, np.float64), np.asarray(same, bool), np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        train = ~test if (~test).any() else test
        threshold, _ = best_threshold(scores[train], same[train])
        accuracies.append(float(np.mean((scores[test] > threshold) == same[test])))
        thresholds.append(threshold)
    return dict(mean=float(np.mean(accuracies)), std=float(np.std(accuracies)), folds=accuracies, thresholds=thresholds)


def roc_curve(scores, same):
    """False and true positive rates for every threshold, from high to low."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    if same.all() or not same.any():
        raise ValueError("a ROC curve needs both matched and mismatched pairs")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tpr = np.r_[0.0, np.cumsum(y)[distinct] / y.sum()]
    fpr = np.r_[0.0, np.cumsum(~y)[distinct] / (~y).sum()]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def roc_auc(scores, same):
    fpr, tpr, _ = roc_curve(scores, same)
    return float(np.trapezoid(tpr, fpr))


def tar_at_far(scores, same, far):
    """Highest true accept rate whose false accept rate is <= `far`."""
    fpr, tpr, _ = roc_curve(scores, same)
    return float(tpr[fpr <= far].max())
