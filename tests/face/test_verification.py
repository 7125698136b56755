"""LFW protocol: pairs parser and 10-fold accuracy, ROC, TAR@FAR on known answers."""

import numpy as np
import pytest

from sphereface_tf.face.verification import (
    PairsError,
    best_threshold,
    kfold_accuracy,
    read_pairs,
    roc_auc,
    roc_curve,
    tar_at_far,
)


def write_pairs(path, folds=10, per_class=3):
    lines = [f"{folds}\t{per_class}"]
    for f in range(folds):
        lines += [f"Person_{f}_{k}\t1\t{k + 2}" for k in range(per_class)]
        lines += [f"Anna_{f}_{k}\t{k + 1}\tBob_{f}_{k}\t4" for k in range(per_class)]
    path.write_text("\n".join(lines) + "\n")


def test_read_pairs_real_format(tmp_path):
    write_pairs(tmp_path / "pairs.txt")
    pairs = read_pairs(tmp_path / "pairs.txt")
    assert len(pairs) == 60 and [p.fold for p in pairs[:7]] == [0] * 6 + [1]
    assert pairs[0].first == "Person_0_0/Person_0_0_0001.jpg" and pairs[0].second == "Person_0_0/Person_0_0_0002.jpg"
    assert pairs[0].same and not pairs[3].same
    assert pairs[3].second == "Bob_0_0/Bob_0_0_0004.jpg"


def test_dev_file_single_number_header(tmp_path):
    (tmp_path / "dev.txt").write_text("2\nA 1 2\nB 1 3\nC 1 D 2\nE 2 F 1\n")
    pairs = read_pairs(tmp_path / "dev.txt")
    assert [p.same for p in pairs] == [True, True, False, False] and {p.fold for p in pairs} == {0}


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "empty pairs file"),
        ("ten 300\n", r"p.txt:1: header must be"),
        ("1 1\nA 1 2\n", r"header promises 1 fold\(s\) × 2 pairs = 2 lines, found 1"),
        ("1 1\nA 1 2\nB x C 2\n", r"p.txt:3: expected 'name i j'"),
        ("1 1\nA 1 2 3 4 5\nB 1 C 2\n", r"p.txt:2: expected 'name i j'"),
        ("1 1\nB 1 C 2\nA 1 2\n", r"p.txt:2: expected a matched pair here"),
    ],
)
def test_malformed_pairs_name_the_line(tmp_path, text, match):
    (tmp_path / "p.txt").write_text(text)
    with pytest.raises(PairsError, match=match):
        read_pairs(tmp_path / "p.txt")


def _protocol_data(separable, n=6000, seed=0):
    rng = np.random.default_rng(seed)
    same = np.tile(np.repeat([True, False], 300), 10)[:n]
    folds = np.repeat(np.arange(10), 600)[:n]
    if separable:
        scores = np.where(same, rng.uniform(0.5, 1.0, n), rng.uniform(-1.0, 0.4, n))
    else:
        scores = rng.uniform(-1, 1, n)
    return scores, same, folds


def test_perfectly_separable_scores_give_100_percent():
    scores, same, folds = _protocol_data(True)
    result = kfold_accuracy(scores, same, folds)
    assert result["mean"] == 1.0 and result["std"] == 0.0 and len(result["thresholds"]) == 10
    assert all(0.4 <= t <= 0.5 for t in result["thresholds"])
    assert roc_auc(scores, same) == pytest.approx(1.0)
    assert tar_at_far(scores, same, 1e-3) == 1.0


def test_random_scores_give_chance():
    scores, same, folds = _protocol_data(False)
    result = kfold_accuracy(scores, same, folds)
    assert abs(result["mean"] - 0.5) < 0.03
    assert abs(roc_auc(scores, same) - 0.5) < 0.03
    assert tar_at_far(scores, same, 1e-2) < 0.05


def test_threshold_is_chosen_on_other_folds():
    # fold 0's scores are shifted: its own best threshold differs from the others'
    scores, same, folds = _protocol_data(True)
    scores[folds == 0] += 0.45
    result = kfold_accuracy(scores, same, folds)
    assert len(result["folds"]) == 10
    assert result["folds"][0] < 1.0 and result["folds"][1:] == [1.0] * 9


def test_best_threshold_and_roc_on_a_tiny_example():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    same = np.array([True, True, False, True, False])
    threshold, accuracy = best_threshold(scores, same)
    assert accuracy == pytest.approx(0.8)
    assert threshold in (pytest.approx(0.15), pytest.approx(0.75))  # the two cuts with 4 of 5 right
    fpr, tpr, _ = roc_curve(scores, same)
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0, 0.5, 0.5, 1])
    assert roc_auc(scores, same) == pytest.approx(2 / 3 * 0.5 + 1 * 0.5)
