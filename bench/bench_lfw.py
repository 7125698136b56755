#!/usr/bin/env python
"""The LFW accuracy benchmark with an honest choice of settings: tune on some folds, report others once.

  KERAS_BACKEND=jax python bench/bench_lfw.py --images lfw/aligned --pairs lfw/pairs.txt --out runs/lfw \
      --config face/configs/sphereface20_lfw.toml --tune-folds 6-10 --report-folds 1-5 \
      --candidates '{"base": {}, "wd1e-3": {"weight_decay": 1e-3}}' --variants angular,modified,original

1. Every candidate (a name and the settings it changes in --config; "min_images" too)
   trains A-Softmax on each fold of --tune-folds (face.benchmark.run_benchmark: per fold,
   the other folds' people). Each fold is scored twice: cosine similarity, and the official
   SphereFace evaluation's cosine of centred features. The candidate and scoring with the
   best mean accuracy there, all folds finite, are chosen.
2. With the chosen settings, every variant of --variants is trained and scored on each
   fold of --report-folds, once. Those are the figures to report, in the chosen scoring.
Results: <out>/tune/<candidate>/…, <out>/chosen.json, <out>/report/<chosen>[+centered]/… (table.md,
summary.json, roc.png, per-fold JSON). Rerunning continues where it stopped (finished
folds are not redone; the choice is made again from the same tuning results). A fold is
never reused under other settings (face.benchmark refuses that), and a report made with
one choice stays in its own folder: if a later, larger set of candidates chooses
differently, its report is a second one, beside the first, never mixed with it.
"""

import argparse
import json
import os
import time

import keras

from sphereface_tf.commands.face_benchmark import fold_list, name_list
from sphereface_tf.face.benchmark import run_benchmark
from sphereface_tf.face.training import SCHEMA
from sphereface_tf.util.files import write_json


def read_candidates(text):
    """--candidates: inline JSON or @path; a name → settings-changes mapping ("_"-prefixed keys are comments)."""
    where = "--candidates"
    if text.startswith("@"):
        where = f"--candidates {text}"
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise SystemExit(f"{where}: cannot read the file ({err.strerror})") from None
    def no_repeats(pairs):  # json.loads would keep only the last of two candidates of one name
        names = [name for name, _ in pairs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise SystemExit(f"{where}: {twice[0]!r} is given twice in one object (JSON keeps only the last); rename or remove one")
        return dict(pairs)

    try:
        candidates = json.loads(text, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as err:
        raise SystemExit(f"{where}: not JSON ({err})") from None
    if isinstance(candidates, dict):
        candidates = {name: change for name, change in candidates.items() if not name.startswith("_")}
    if not candidates or not isinstance(candidates, dict) or not all(isinstance(v, dict) for v in candidates.values()):
        raise SystemExit(f'{where}: give a JSON object of name → settings, e.g. {{"base": {{}}, "wd": {{"weight_decay": 0.005}}}}')
    return candidates


def candidate_settings(base, change, name):
    """(validated settings, min_images) of a candidate: `base` with `change` ("min_images" is the benchmark's)."""
    change = dict(change)
    min_images = change.pop("min_images", 2)
    if not isinstance(min_images, int) or min_images < 1:
        raise SystemExit(f"candidate {name}: min_images must be a whole number ≥ 1, got {min_images!r}")
    return SCHEMA.validate(dict(base, **change), where=f"candidate {name}"), min_images


def choose(tuned, folds):
    """(candidate, scoring) with the best mean accuracy on the tuning folds, among candidates finite on every fold.

    A candidate offers "centered" only where each of its folds has centred scores (folds of
    records from before they existed do not).
    """
    options = {}
    for name, t in tuned.items():
        if t["diverged"] or t["accuracy_mean"] is None or sorted(t["folds"]) != sorted(folds):
            continue
        options[(name, "cosine")] = t["accuracy_mean"]
        if t["centered_accuracy_mean"] is not None:
            options[(name, "centered")] = t["centered_accuracy_mean"]
    if not options:
        raise SystemExit("no candidate finished every tuning fold with finite training")
    return max(options, key=options.get)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", required=True, help="TOML settings of face/train.py (the base recipe)")
    parser.add_argument("--tune-folds", type=fold_list, default=fold_list("6-10"))
    parser.add_argument("--report-folds", type=fold_list, default=fold_list("1-5"))
    parser.add_argument("--candidates", default='{"config": {}}',
                        help="JSON: name → settings changed from --config, or @file.json (e.g. @bench/lfw_candidates.json)")
    parser.add_argument("--variants", type=name_list, default=["angular", "modified", "original"])
    parser.add_argument("--margins", default="", help="extra report runs of A-Softmax with these m, e.g. 1,2,3")
    args = parser.parse_args()
    if set(args.tune_folds) & set(args.report_folds):
        parser.error("--tune-folds and --report-folds must not share a fold")
    base = dict(SCHEMA.defaults(), **SCHEMA.read_toml(args.config))
    candidates = read_candidates(args.candidates)
    started = time.time()
    print(f"Keras {keras.__version__} ({keras.config.backend()}); tune on folds {args.tune_folds}, report folds "
          f"{args.report_folds}; candidates {candidates}", flush=True)

    tuned = {}
    for name, change in candidates.items():
        settings, min_images = candidate_settings(base, change, name)
        summary = run_benchmark(args.images, args.pairs, os.path.join(args.out, "tune", name), folds=args.tune_folds,
                                runs=[("angular", settings["m"])], settings=settings, min_images=min_images)
        entry = next(iter(summary.values()))
        centred = entry.get("centered", {})
        tuned[name] = dict(change=change, accuracy_mean=entry.get("accuracy_mean"), accuracy_std=entry.get("accuracy_std"),
                           centered_accuracy_mean=centred.get("accuracy_mean"), centered_accuracy_std=centred.get("accuracy_std"),
                           diverged=entry["diverged"], folds=entry["folds_done"])
        print(f"tune {name}: {tuned[name]} ({time.time() - started:.0f} s)", flush=True)
    chosen, scoring = choose(tuned, args.tune_folds)
    settings, min_images = candidate_settings(base, candidates[chosen], chosen)
    write_json(os.path.join(args.out, "chosen.json"), dict(chosen=chosen, scoring=scoring, settings=settings,
                                                           min_images=min_images, tuning=tuned,
                                                           tune_folds=args.tune_folds, report_folds=args.report_folds))
    print(f"chosen on folds {args.tune_folds}: {chosen} {candidates[chosen]}, scoring: {scoring}", flush=True)

    runs = [(v, settings["m"] if v == "angular" else 1) for v in args.variants]
    runs += [("angular", int(m)) for m in args.margins.split(",") if m and int(m) != settings["m"]]
    report = os.path.join(args.out, "report", chosen + ("+centered" if scoring == "centered" else ""))
    run_benchmark(args.images, args.pairs, report, folds=args.report_folds, runs=runs, settings=settings,
                  min_images=min_images)
    with open(os.path.join(report, "table.md"), encoding="utf-8") as handle:
        print(handle.read(), flush=True)
    print(f"done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
