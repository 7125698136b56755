"""A fold's record on disk: its run's name, the fingerprint of its faces, and whether it can be reused.

A finished fold is written to `out/<run>/fold<k>.json` and reused when the benchmark runs
again, but only with the same recipe and the same faces: anything else is refused, never mixed.
"""

import hashlib
import json
import os

import numpy as np

from sphereface_tf.face.training import SCHEMA, precision_and_xla
from sphereface_tf.util.errors import InputError

# settings that do not change what a fold's model learns (where files go, how often it logs or checks)
NOT_RESULT_SETTINGS = frozenset({"data", "out", "log_every", "checkpoint_every", "distribute", "shuffle_buffer",
                                 "deterministic"})


def run_name(variant, m):
    return f"{variant}-m{m}" if variant == "angular" else variant


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
                             f"another recipe's or other faces'; choose another output folder, or remove that run's folder to "
                             f"train it again")
        done.append(k)
    return done


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
