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
"""

import hashlib
import json
import os
import time

import keras
import numpy as np

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import CacheBatches, FaceArrays, FaceDataError, load_faces, scan_identity_folders
from sphereface_tf.face.plots import plot_roc_curves
from sphereface_tf.face.embed import compare
from sphereface_tf.face.protocol import pair_features, pair_files, verify, verify_centered
from sphereface_tf.face.training import SCHEMA, build_face_model, compile_face_model, precision_and_xla
from sphereface_tf.face.verification import read_pairs
from sphereface_tf.training.callbacks import EpochTimer, StopOnNonFinite
from sphereface_tf.util.errors import InputError, TrainingDiverged, check_output_dir
from sphereface_tf.util.files import RunLock, atomic_write, save_figure, write_json

ROC_POINTS = 200  # points of each fold's ROC kept in its JSON
# settings that do not change what a fold's model learns (where files go, how often it logs or checks)
NOT_RESULT_SETTINGS = frozenset({"data", "out", "log_every", "checkpoint_every", "distribute", "shuffle_buffer",
                                 "deterministic"})


def run_name(variant, m):
    return f"{variant}-m{m}" if variant == "angular" else variant


def fold_people(pairs):
    """Fold number (1-based) → the set of people its pairs name."""
    people = {}
    for pair in pairs:
        for path in (pair.first, pair.second):
            people.setdefault(pair.fold + 1, set()).add(path.split("/")[0])
    return people


def faces_digest(keys, images):
    """A short fingerprint of the faces a benchmark trains and scores on: their names and every pixel.

    The same folder path can hold other faces (aligned again with other landmarks, say);
    a finished fold is reused only on the faces it was made with.
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update("\n".join(keys).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


def settings_changed(record, settings, min_images, precision, faces):
    """The settings (name, recorded, now) in which a finished fold's record differs from this run's.

    `settings` are validated (lists stay lists, as in the JSON record). A setting the
    record lacks (one added to the recipe later) counts as its default. "precision"
    compares what "auto" meant on each machine (`precision`, e.g. bf16 on a GPU and
    float32 on a CPU), where the record says (records from 2026-11-27 on). `faces`, this
    run's `faces_digest`, compares the faces themselves; a record made before digests were
    kept (2026-11-29) says "not recorded" and counts as other faces.
    """
    recorded = dict(SCHEMA.defaults(), **record.get("settings", {}), min_images=record.get("min_images", 2))
    now = dict(settings, min_images=min_images)
    if "precision_used" in record:
        recorded["precision"], now["precision"] = record["precision_used"], precision
    recorded["faces"], now["faces"] = record.get("faces", "not recorded"), faces
    return [(key, recorded.get(key), value) for key, value in sorted(now.items())
            if key not in NOT_RESULT_SETTINGS and recorded.get(key) != value]


def fold_records(out, name, folds):
    """(fold, path, record) of each fold of `folds` that run `name` has a result for in `out`."""
    for k in folds:
        path = os.path.join(out, name, f"fold{k}.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                yield k, path, json.load(handle)


def finished_folds(out, name, folds, settings, min_images, precision, faces):
    """Folds of run `name` with a result in `out`; raises `InputError` if one was trained with other settings
    or on other faces (`faces`: this run's `faces_digest`)."""
    done = []
    for k, path, record in fold_records(out, name, folds):
        changed = settings_changed(record, settings, min_images, precision, faces)
        if changed:
            what = ", ".join(f"{key} {old!r} there, {new!r} now" for key, old, new in changed[:3])
            raise InputError(f"{path} was trained with other settings ({what}): a finished fold is never mixed with "
                             f"another recipe's or other faces'; give another --out, or remove that run's folder to "
                             f"train it again")
        done.append(k)
    return done


def split_for_fold(faces, people, fold, min_images=2):
    """Indices into `faces` of the training faces for `fold` and their labels 0…n−1, with the identity names.

    Training people: those of the other folds with ≥ `min_images` images. Raises
    `InputError` if any of them is also in `fold` (a pairs file whose folds share people).
    """
    test_people = people[fold]
    train_people = set().union(*(p for k, p in people.items() if k != fold))
    shared = train_people & test_people
    if shared:
        raise InputError(f"fold {fold} shares {len(shared)} people with the other folds (e.g. {sorted(shared)[0]}): "
                         "not an identity-disjoint split; use LFW's View 2 pairs.txt")
    names = np.asarray(faces.names)[faces.labels]
    counts = {name: int(n) for name, n in zip(*np.unique(names, return_counts=True))}
    keep = sorted(p for p in train_people if counts.get(p, 0) >= min_images)
    label_of = {name: i for i, name in enumerate(keep)}
    index = np.flatnonzero([name in label_of for name in names])
    return index, np.asarray([label_of[n] for n in names[index]], np.int32), keep


_LOADED = {}


def load_lfw(images_root, pairs_path, landmarks=None):
    """All faces under `images_root` (aligned or resized to 112×96) and the pairs; (faces, images, pairs).

    Kept in memory for the process: later benchmarks of the same images do not decode them again.
    """
    key = (os.path.abspath(images_root), os.path.abspath(pairs_path), None if landmarks is None else id(landmarks))
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = _load_lfw(images_root, pairs_path, landmarks)
    return _LOADED[key]


def _load_lfw(images_root, pairs_path, landmarks=None):
    pairs = read_pairs(pairs_path)
    if isinstance(landmarks, (str, os.PathLike)):
        landmarks = read_landmarks(landmarks)
    faces = scan_identity_folders(images_root)
    missing = sorted(set(pair_files(pairs)) - set(faces.keys))
    if missing:
        raise InputError(f"{len(missing)} image(s) named in {pairs_path} are not under --images {images_root}, e.g. "
                         f"{missing[0]}; --images must be the root of LFW's Name/Name_0001.jpg folders")
    images, _ = load_faces(faces.paths, faces.keys, landmarks, where=f" under {images_root}")
    return faces, images, pairs


class _Model:
    """A run's model, compiled once; `reset()` puts back the initial weights and a fresh optimizer state."""

    def __init__(self, settings, classes):
        keras.utils.set_random_seed(settings["seed"])
        self.model, self.backbone, self.head = build_face_model(settings, classes)
        compile_face_model(self.model, settings, xla=precision_and_xla(settings)[1])
        self.initial = self.model.get_weights()

    def reset(self):
        self.model.set_weights(self.initial)
        if self.model.optimizer.built:  # its slots exist from the first fold on
            for variable in self.model.optimizer.variables:
                variable.assign(keras.ops.zeros(variable.shape, variable.dtype))


def train_fold(run, settings, arrays, verbose=0):
    """Train `run` (a `_Model`) on `arrays` for settings["steps"]; returns (final loss, images/s, seconds)."""
    run.reset()
    every = settings["checkpoint_every"]
    batches = iter(CacheBatches(arrays, settings["batch_size"], seed=settings["seed"]))
    timer = EpochTimer(images_per_step=settings["batch_size"])
    guard = StopOnNonFinite(what=f"{settings['variant']} softmax, learning rate {settings['learning_rate']:g}",
                            hint="lower the learning rate or look at docs/face.md (training that diverges)")
    started = time.perf_counter()
    history = run.model.fit(batches, epochs=settings["steps"] // every, steps_per_epoch=every, verbose=verbose,
                            callbacks=[timer, guard], shuffle=False)
    rates = timer.images_per_second[1:] or timer.images_per_second  # the first interval includes compilation
    return float(history.history["loss"][-1]), float(np.median(rates)) if rates else None, time.perf_counter() - started


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


def run_benchmark(images_root, pairs_path, out, folds=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), runs=(("angular", 4),),
                  settings=None, landmarks=None, min_images=2, verbose=0):
    """Train and verify every (variant, m) of `runs` on every fold of `folds`; returns the summary.

    `settings`: face/train.py's keys (data and out are not used). Results go to `out`.
    """
    settings = SCHEMA.validate(dict(SCHEMA.defaults(), **(settings or {})), where="benchmark settings")
    check_output_dir(out)
    with RunLock(out):
        faces, images, pairs = load_lfw(images_root, pairs_path, landmarks)
        digest = faces_digest(faces.keys, images)
        people = fold_people(pairs)
        unknown = sorted(set(folds) - set(people))
        if unknown:
            raise InputError(f"--folds {unknown}: {pairs_path} has folds {sorted(people)}")
        splits = {k: split_for_fold(faces, people, k, min_images) for k in people}
        # one class count for every fold of the pairs file: runs of the same settings compile the same step
        classes = max(len(names) for _, _, names in splits.values())
        if classes < 2:
            raise FaceDataError(f"{images_root}: fewer than 2 training identities with ≥ {min_images} images per fold")
        write_json(os.path.join(out, "benchmark.json"), dict(
            images=os.fspath(images_root), pairs=os.fspath(pairs_path), folds=list(folds),
            runs=[run_name(v, m) for v, m in runs], settings=settings, classes=classes, min_images=min_images,
            faces=digest, backend=keras.config.backend(), keras=keras.__version__))
        print(f"{len(faces)} faces of {len(faces.names)} people; folds {list(folds)}; {classes} classes (the largest "
              f"training split of any fold); runs {', '.join(run_name(v, m) for v, m in runs)}", flush=True)
        policy = keras.config.dtype_policy()
        for variant, m in runs:
            name = run_name(variant, m)
            run_settings = dict(settings, variant=variant, m=m if variant == "angular" else 1)
            precision, _ = precision_and_xla(run_settings)
            done = finished_folds(out, name, folds, run_settings, min_images, precision, digest)
            todo = [k for k in folds if k not in done]
            if not todo:
                continue
            keras.config.set_dtype_policy(precision)
            try:
                model = _Model(run_settings, classes)
                for k in todo:
                    index, labels, names = splits[k]
                    record = dict(run=name, fold=k, variant=variant, m=run_settings["m"], min_images=min_images,
                                  faces=digest, precision_used=precision, backend=keras.config.backend(),
                                  train_people=len(names), train_faces=int(len(index)), test_people=len(people[k]),
                                  identity_disjoint=not (set(names) & people[k]), settings=run_settings)
                    try:
                        loss, rate, seconds = train_fold(model, run_settings, FaceArrays(images[index], labels, classes),
                                                         verbose=verbose)
                    except TrainingDiverged as err:
                        record.update(diverged=str(err), finite=False)
                        print(f"[{name}] fold {k}: {err}", flush=True)
                    else:
                        record.update(finite=True, final_loss=loss, images_per_second=rate, train_seconds=round(seconds, 1),
                                      **score_fold(*fold_features(model.backbone, images, pairs, faces, k)))
                        print(f"[{name}] fold {k}: accuracy {record['accuracy']:.4f} (centred features "
                              f"{record['centered']['accuracy']:.4f}), AUC {record['roc_auc']:.4f}, "
                              f"final loss {loss:.4f}, {seconds:.0f} s", flush=True)
                    os.makedirs(os.path.join(out, name), exist_ok=True)
                    write_json(os.path.join(out, name, f"fold{k}.json"), record)
            finally:
                keras.config.set_dtype_policy(policy)
        names = [run_name(v, m) for v, m in runs]
        return summarize(out, folds, names + earlier_runs(out, folds, settings, min_images, names, digest))


def earlier_runs(out, folds, settings, min_images, names, faces):
    """Run folders of `out` beyond `names` (variants or m of an earlier call) whose folds have these settings.

    A report is often made in parts (the three variants, later more m); its table shows every
    part. A run folder with a fold of other settings is left out of the table, with a line.
    """
    found = []
    for name in sorted(set(os.listdir(out)) - set(names)):
        records = [record for _, _, record in fold_records(out, name, folds)]
        changed = []
        for record in records:
            own = dict(settings, **{key: record.get("settings", {}).get(key) for key in ("variant", "m")})
            changed += settings_changed(record, own, min_images, precision_and_xla(own)[0], faces)
        if changed:
            key, old, new = changed[0]
            print(f"{os.path.join(out, name)}: left out of the table, trained with other settings ({key} {old!r} there, "
                  f"{new!r} now)", flush=True)
        elif records:
            found.append(name)
    return found


def summarize(out, folds, names):
    """summary.json, table.md and roc.png from the fold files present in `out`."""
    summary, curves = {}, {}
    for name in names:
        records = [record for _, _, record in fold_records(out, name, folds)]
        scored = [r for r in records if r.get("finite")]
        entry = dict(folds_done=[r["fold"] for r in records], diverged=[r["fold"] for r in records if not r.get("finite")])
        if scored:
            acc = np.array([r["accuracy"] for r in scored])
            entry.update(
                accuracy_mean=float(acc.mean()), accuracy_std=float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                accuracies=acc.tolist(), roc_auc_mean=float(np.mean([r["roc_auc"] for r in scored])),
                tar_at_far={far: float(np.mean([r["tar_at_far"][far] for r in scored])) for far in scored[0]["tar_at_far"]},
                train_seconds_mean=float(np.mean([r["train_seconds"] for r in scored])),
                images_per_second_median=float(np.median([r["images_per_second"] for r in scored if r["images_per_second"]]))
                if any(r["images_per_second"] for r in scored) else None)
            if all("centered" in r for r in scored):  # records from before 2026-11-27's fifth session lack it
                centred = np.array([r["centered"]["accuracy"] for r in scored])
                entry["centered"] = dict(
                    accuracy_mean=float(centred.mean()), accuracy_std=float(centred.std(ddof=1)) if len(centred) > 1 else 0.0,
                    accuracies=centred.tolist(), roc_auc_mean=float(np.mean([r["centered"]["roc_auc"] for r in scored])))
            fpr = np.asarray(scored[0]["roc"]["fpr"])
            curves[name] = (fpr, np.mean([r["roc"]["tpr"] for r in scored], axis=0), entry["roc_auc_mean"])
        summary[name] = entry
    write_json(os.path.join(out, "summary.json"), summary)
    with atomic_write(os.path.join(out, "table.md"), "w") as handle:
        handle.write(summary_table(summary, folds))
    if curves:
        save_figure(plot_roc_curves(curves, title=f"LFW folds {', '.join(map(str, folds))}: mean ROC over folds"),
                    os.path.join(out, "roc.png"))
    return summary


def summary_table(summary, folds):
    lines = [f"Identity-disjoint LFW, folds {', '.join(map(str, folds))}: mean ± standard deviation over folds "
             "(each fold scored on its own pairs by a model trained on the other folds' people).", "",
             "| run | folds | accuracy | ROC AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | diverged | accuracy, centred features |",
             "|---|---|---|---|---|---|---|---|"]
    for name, e in summary.items():
        centred = e.get("centered")
        centred = f"{centred['accuracy_mean']:.4f} ± {centred['accuracy_std']:.4f}" if centred else "—"
        if "accuracy_mean" in e:
            lines.append(f"| {name} | {len(e['folds_done'])} | {e['accuracy_mean']:.4f} ± {e['accuracy_std']:.4f} | "
                         f"{e['roc_auc_mean']:.4f} | {e['tar_at_far']['1e-3']:.4f} | {e['tar_at_far']['1e-2']:.4f} | "
                         f"{len(e['diverged'])} | {centred} |")
        else:
            lines.append(f"| {name} | {len(e['folds_done'])} | — | — | — | — | {len(e['diverged'])} | — |")
    lines += ["", "Accuracy: cosine similarity of the flip-concatenated embeddings, the threshold chosen on 9 of 10 "
              "stratified sub-folds of the fold's pairs. Centred features: as the official SphereFace evaluation, the "
              "mean embedding of those 9 sub-folds' pairs is subtracted first."]
    return "\n".join(lines) + "\n"
