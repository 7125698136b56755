"""The LFW protocol behind a reported accuracy: choose the settings on some folds, report other folds once.

    from sphereface_tf.face.benchmark import tune_and_report
    tune_and_report("lfw-aligned/", "pairs.txt", "runs/lfw", base, tune_folds=[6, 7, 8, 9, 10],
                    report_folds=[1, 2, 3, 4, 5], candidates={"base": {}, "wd1e-3": {"weight_decay": 1e-3}})

1. Every candidate (a name and the settings it changes in `base`; "min_images" too) trains
   A-Softmax on each tuning fold (`run_benchmark`: per fold, the other folds' people). Each
   fold is scored twice: cosine similarity, and the official SphereFace evaluation's cosine
   of centred features. The candidate and scoring with the best mean accuracy there, every
   tuning fold finished and finite, are chosen (`choose`).
2. With the chosen settings every variant (and each extra A-Softmax margin) is trained and
   scored on each reporting fold, once. Those are the figures to report, in the chosen scoring.

Results: `out/tune/<candidate>/…`, `out/chosen.json`, `out/report/<chosen>[+centered]/…`
(table.md, summary.json, roc.png, per-fold JSON). Run again, it continues where it stopped
(finished folds are not redone; the choice is made again from the same tuning results). A
fold is never reused under other settings (`run_benchmark` refuses that), and a report made
with one choice stays in its own folder: if a later, larger set of candidates chooses
differently, its report is a second one beside the first, never mixed with it.
"""

import json
import os
import time

import keras

from sphereface_tf.face.benchmark.runner import run_benchmark
from sphereface_tf.face.training import SCHEMA
from sphereface_tf.util.errors import ConfigError, InputError
from sphereface_tf.util.files import write_json


def read_candidates(text, where="candidates"):
    """Candidates from JSON text, or from a file as "@path": a name → settings-changes mapping.

    Names starting with "_" are comments and dropped. `where` names the source in errors
    (a command passes its option's name).
    """
    if text.startswith("@"):
        where = f"{where} {text}"
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise ConfigError(f"{where}: cannot read the file ({err.strerror})") from None

    def no_repeats(pairs):  # json.loads would keep only the last of two candidates of one name
        names = [name for name, _ in pairs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"{where}: {twice[0]!r} is given twice in one object (JSON keeps only the last); "
                              f"rename or remove one")
        return dict(pairs)

    try:
        candidates = json.loads(text, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{where}: not JSON ({err})") from None
    if isinstance(candidates, dict):
        candidates = {name: change for name, change in candidates.items() if not name.startswith("_")}
    if not candidates or not isinstance(candidates, dict) or not all(isinstance(v, dict) for v in candidates.values()):
        raise ConfigError(f'{where}: give a JSON object of name → settings, e.g. {{"base": {{}}, "wd": {{"weight_decay": 0.005}}}}')
    return candidates


def candidate_settings(base, change, name):
    """(validated settings, min_images) of a candidate: `base` with `change` ("min_images" is the benchmark's)."""
    change = dict(change)
    min_images = change.pop("min_images", 2)
    if not isinstance(min_images, int) or isinstance(min_images, bool) or min_images < 1:
        raise ConfigError(f"candidate {name}: min_images must be a whole number ≥ 1, got {min_images!r}")
    return SCHEMA.validate(dict(base, **change), where=f"candidate {name}"), min_images


def choose(tuned, folds):
    """(candidate, scoring) with the best mean accuracy on the tuning folds, among candidates finite on every fold.

    A candidate offers "centered" only where each of its folds has centred scores (folds of
    records from before they existed do not). Ties go to the first candidate and to cosine.
    """
    options = {}
    for name, t in tuned.items():
        if t["diverged"] or t["accuracy_mean"] is None or sorted(t["folds"]) != sorted(folds):
            continue
        options[(name, "cosine")] = t["accuracy_mean"]
        if t["centered_accuracy_mean"] is not None:
            options[(name, "centered")] = t["centered_accuracy_mean"]
    if not options:
        raise InputError("no candidate finished every tuning fold with finite training; see each candidate's "
                         "folds under tune/ and lower the learning rate of those that diverged")
    return max(options, key=options.get)


def tune_and_report(images_root, pairs_path, out, base, tune_folds, report_folds, candidates=None,
                    variants=("angular", "modified", "original"), margins=(), landmarks=None, log=print):
    """Choose a candidate and scoring on `tune_folds`, then train and score `variants` on `report_folds` once.

    `base`: face training settings (validated); `candidates`: name → changes (default: `base`
    alone, as "config"); `margins`: extra A-Softmax runs for the report. Returns a dict with
    `chosen`, `scoring`, `report` (the report's folder) and `summary` (its summary).
    """
    if set(tune_folds) & set(report_folds):
        raise InputError(f"the tuning folds {sorted(tune_folds)} and the reporting folds {sorted(report_folds)} share "
                         f"{sorted(set(tune_folds) & set(report_folds))}: settings chosen on a fold are never reported on it")
    candidates = candidates or {"config": {}}
    started = time.time()
    log(f"Keras {keras.__version__} ({keras.config.backend()}); tune on folds {sorted(tune_folds)}, report folds "
        f"{sorted(report_folds)}; candidates {candidates}")
    settings_of = {name: candidate_settings(base, change, name) for name, change in candidates.items()}  # all checked first
    tuned = {}
    for name, change in candidates.items():
        settings, min_images = settings_of[name]
        summary = run_benchmark(images_root, pairs_path, os.path.join(out, "tune", name), folds=tune_folds,
                                runs=[("angular", settings["m"])], settings=settings, landmarks=landmarks,
                                min_images=min_images)
        entry = next(iter(summary.values()))
        centred = entry.get("centered", {})
        tuned[name] = dict(change=change, accuracy_mean=entry.get("accuracy_mean"), accuracy_std=entry.get("accuracy_std"),
                           centered_accuracy_mean=centred.get("accuracy_mean"), centered_accuracy_std=centred.get("accuracy_std"),
                           diverged=entry["diverged"], folds=entry["folds_done"])
        log(f"tune {name}: {tuned[name]} ({time.time() - started:.0f} s)")
    chosen, scoring = choose(tuned, tune_folds)
    settings, min_images = settings_of[chosen]
    write_json(os.path.join(out, "chosen.json"), dict(chosen=chosen, scoring=scoring, settings=settings,
                                                      min_images=min_images, tuning=tuned,
                                                      tune_folds=sorted(tune_folds), report_folds=sorted(report_folds)))
    log(f"chosen on folds {sorted(tune_folds)}: {chosen} {candidates[chosen]}, scoring: {scoring}")
    runs = [(v, settings["m"] if v == "angular" else 1) for v in variants]
    runs += [("angular", int(m)) for m in margins if int(m) != settings["m"]]
    report = os.path.join(out, "report", chosen + ("+centered" if scoring == "centered" else ""))
    summary = run_benchmark(images_root, pairs_path, report, folds=report_folds, runs=runs, settings=settings,
                            landmarks=landmarks, min_images=min_images)
    log(f"reported folds {sorted(report_folds)} in {report}, {time.time() - started:.0f} s in all")
    return dict(chosen=chosen, scoring=scoring, report=report, summary=summary)
