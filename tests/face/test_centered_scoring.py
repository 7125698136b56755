"""The official SphereFace evaluation's scores: features centred on the other folds' mean before the cosine."""

import numpy as np
import pytest

from sphereface_tf.face.protocol import verify, verify_centered
from sphereface_tf.util.errors import InputError


def official_evaluation_ref(first, second, same, folds):
    """float64 loop of the official evaluation (sphereface/test/code/evaluation.m), with a fresh mean for each fold:
    μ over both faces of the other folds' pairs; cos(a − μ, b − μ); the threshold that is most accurate on the
    other folds (midpoints between sorted scores); accuracy on this fold."""
    accuracies = []
    for k in np.unique(folds):
        test = folds == k
        mu = np.vstack([first[~test], second[~test]]).mean(axis=0)
        a, b = first - mu, second - mu
        scores = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        s = np.sort(scores[~test])
        candidates = np.r_[s[0] - 1e-6, (s[:-1] + s[1:]) / 2, s[-1] + 1e-6]
        train_accuracy = [np.mean((scores[~test] > t) == same[~test]) for t in candidates]
        threshold = candidates[int(np.argmax(train_accuracy))]
        accuracies.append(np.mean((scores[test] > threshold) == same[test]))
    return np.array(accuracies)


def offset_pairs(n=400, dim=16, offset=6.0, spread=2.0, seed=0):
    """Unit embeddings of people (identity directions) plus a shared direction whose weight varies from face to face
    (mean `offset`, std `spread`): raw cosines mix that nuisance into every score, centring removes most of it."""
    rng = np.random.default_rng(seed)
    same = np.arange(n) % 2 == 0
    shared = rng.normal(size=dim)
    shared /= np.linalg.norm(shared)
    people, other = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    first = people + 0.5 * rng.normal(size=(n, dim)) + rng.normal(offset, spread, (n, 1)) * shared
    second = np.where(same[:, None], people, other) + 0.5 * rng.normal(size=(n, dim)) + rng.normal(offset, spread, (n, 1)) * shared
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    return unit(first), unit(second), same


def test_matches_the_official_evaluation_loop_per_fold():
    first, second, same = offset_pairs()
    folds = np.arange(len(same)) % 10
    result = verify_centered(first, second, same, folds)
    np.testing.assert_allclose(result["fold_accuracies"], official_evaluation_ref(first, second, same, folds), atol=1e-12)


def test_centring_removes_a_shared_offset_that_plain_cosine_suffers_from():
    first, second, same = offset_pairs()
    folds = np.zeros(len(same), int)  # one fold: stratified sub-folds, as the benchmark scores a fold
    plain = verify(np.sum(first * second, axis=1), same, folds)["accuracy_mean"]
    centred = verify_centered(first, second, same, folds)
    assert centred["accuracy_mean"] > plain + 0.05 and centred["accuracy_mean"] > 0.9
    assert centred["folds"] == 10 and any("centred" in note for note in centred["notes"])


def test_the_mean_and_threshold_never_see_the_pairs_they_score():
    """Changing one sub-fold's features changes that sub-fold's accuracy only through its own scores:
    the threshold chosen for it (from the other sub-folds) stays as it was."""
    first, second, same = offset_pairs(seed=1)
    folds = np.arange(len(same)) % 10
    before = verify_centered(first, second, same, folds)
    moved = folds == 3
    first2, second2 = first.copy(), second.copy()
    first2[moved] += 5.0  # a far-off cluster: it would drag any mean that included it
    after = verify_centered(first2, second2, same, folds)
    assert after["thresholds"][3] == pytest.approx(before["thresholds"][3], abs=1e-12)
    assert after["thresholds"][4] != pytest.approx(before["thresholds"][4], abs=1e-6)  # other folds' means include it


def test_non_finite_embeddings_are_refused():
    first, second, same = offset_pairs(n=40)
    first[0, 0] = np.nan
    with pytest.raises(InputError, match="not finite"):
        verify_centered(first, second, same, np.zeros(40, int))
