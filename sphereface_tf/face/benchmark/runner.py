"""Training a run's model on each fold and recording it: `run_benchmark`."""

import os
import time

import keras
import numpy as np

from sphereface_tf.face.benchmark.folds import fold_people, load_lfw, split_for_fold
from sphereface_tf.face.benchmark.records import earlier_runs, faces_digest, finished_folds, run_name
from sphereface_tf.face.benchmark.scoring import fold_features, score_fold
from sphereface_tf.face.benchmark.summary import summarize
from sphereface_tf.face.data import CacheBatches, FaceArrays, FaceDataError
from sphereface_tf.face.training import SCHEMA, build_face_model, compile_face_model, precision_and_xla
from sphereface_tf.training.callbacks import EpochTimer, StopOnNonFinite
from sphereface_tf.util.errors import InputError, TrainingDiverged, check_output_dir
from sphereface_tf.util.files import RunLock, write_json

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
            raise InputError(f"folds {unknown}: {pairs_path} has folds {sorted(people)}; choose among those")
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
