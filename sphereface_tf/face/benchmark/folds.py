"""LFW's ten identity-disjoint folds: who is in each, the training faces for a fold, the faces loaded once."""

import os

import numpy as np

from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.data import load_faces, scan_identity_folders
from sphereface_tf.face.protocol import pair_files
from sphereface_tf.face.verification import read_pairs
from sphereface_tf.util.errors import InputError

def fold_people(pairs):
    """Fold number (1-based) → the set of people its pairs name."""
    people = {}
    for pair in pairs:
        for path in (pair.first, pair.second):
            people.setdefault(pair.fold + 1, set()).add(path.split("/")[0])
    return people


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
        raise InputError(f"{len(missing)} image(s) named in {pairs_path} are not under the image folder {images_root}, "
                         f"e.g. {missing[0]}; give the root of LFW's Name/Name_0001.jpg folders")
    images, _ = load_faces(faces.paths, faces.keys, landmarks, where=f" under {images_root}")
    return faces, images, pairs
