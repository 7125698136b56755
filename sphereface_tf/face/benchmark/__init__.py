"""An identity-disjoint LFW benchmark: for each chosen fold, train on the people of the other nine, verify that fold's pairs.

    from sphereface_tf.face.benchmark import run_benchmark
    run_benchmark("lfw-aligned/", "pairs.txt", "runs/lfw", folds=[1, 2, 3, 4, 5],
                  runs=[("angular", 4), ("modified", 1), ("original", 1)], settings={...})

LFW View 2 has ten folds of 300 matched and 300 mismatched pairs, and no person is in
two folds. For fold k the training set is every person of the other nine folds with at
least `min_images` images (none of fold k's people: checked, and recorded per fold), and
the test is fold k's 600 pairs, scored as face/evaluate.py scores a one-fold pairs file
(stratified sub-folds: thresholds are never chosen on the pairs they score).

Every run (variant, m) trains one model per fold with the same recipe (`settings`, the
keys of face/train.py). The model is built and compiled once per run, with one class
count for all folds (the largest; labels beyond a fold's people are never targets), and
reset to the same initial weights for each fold: the compiled step is used again. A
finished fold is written to `out/<run>/fold<k>.json` at once and not redone after an
interruption; run again with other settings on the same `out`, it is refused (never mixed
with another recipe's folds). A fold whose training diverges is recorded as such (the step
and the settings), never scored. The summary (`summary.json`, `table.md`, `roc.png`) covers the
folds finished so far.

The parts: `folds` (who is in each fold, a fold's training faces), `records` (a fold's
record on disk, reused or refused), `runner` (`run_benchmark`: train and record each fold),
`scoring` (a fold's verification), `summary` (the table and ROC over finished folds) and
`tuning` (the honest protocol: choose settings on some folds, report others once).
"""

from sphereface_tf.face.benchmark.folds import fold_people, load_lfw, split_for_fold
from sphereface_tf.face.benchmark.records import faces_digest, finished_folds, run_name, settings_changed
from sphereface_tf.face.benchmark.runner import run_benchmark, train_fold
from sphereface_tf.face.benchmark.scoring import score_fold
from sphereface_tf.face.benchmark.summary import summarize, summary_table
from sphereface_tf.face.benchmark.tuning import candidate_settings, choose, read_candidates, tune_and_report

__all__ = ["candidate_settings", "choose", "faces_digest", "finished_folds", "fold_people", "load_lfw", "read_candidates",
           "run_benchmark", "run_name", "score_fold", "settings_changed", "split_for_fold", "summarize", "summary_table",
           "train_fold", "tune_and_report"]
