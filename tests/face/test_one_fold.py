"""A pairs file with one fold: its threshold is never fitted on the pairs it scores."""

import numpy as np
import pytest

from sphereface_tf.face.protocol import stratified_folds, verify
from sphereface_tf.face.verification import best_threshold
from sphereface_tf.util.errors import InputError


def test_one_fold_is_split_into_stratified_sub_folds_and_said_so():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    scores = np.where(same, rng.normal(0.6, 0.2, 600), rng.normal(0.1, 0.2, 600))
    result = verify(scores, same, np.zeros(600, int))
    assert result["folds"] == 10 and len(result["fold_accuracies"]) == 10
    assert any("one fold" in note and "10 stratified sub-folds" in note for note in result["notes"])
    folds = stratified_folds(same)
    for k in range(10):  # each sub-fold: 30 matched and 30 mismatched pairs
        assert (same[folds == k].sum(), (~same[folds == k]).sum()) == (30, 30)


def test_scores_are_not_fitted_on_their_own_pairs():
    """Scores that carry no signal: a threshold fitted on the scored pairs themselves looks better than chance;
    held out (as the protocol must), it does not."""
    rng = np.random.default_rng(3)
    same = np.r_[np.ones(30, bool), np.zeros(30, bool)]
    scores = rng.normal(size=60)
    _, fitted_in_sample = best_threshold(scores, same)
    held_out = verify(scores, same, np.zeros(60, int))["accuracy_mean"]
    assert fitted_in_sample > 0.55 and held_out < fitted_in_sample - 0.05  # (fitted in-sample, a fold would score 0.567)


def test_too_few_pairs_for_sub_folds_is_refused():
    with pytest.raises(InputError, match="too few pairs"):
        verify(np.array([0.9, 0.1]), np.array([True, False]), np.zeros(2, int))


def test_non_finite_scores_are_refused():
    with pytest.raises(InputError, match="not finite"):
        verify(np.array([0.9, np.nan, 0.1, 0.2]), np.array([True, True, False, False]), np.array([0, 1, 0, 1]))
