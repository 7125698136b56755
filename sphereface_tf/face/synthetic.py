"""Synthetic identities in the real on-disk layouts, for tests, benchmarks and dry runs (no face data set is reachable offline).

Each identity is a fixed random low-frequency colour pattern; its images are
that pattern plus per-image noise and a small shift, so identities are
learnable but not trivially identical.

With `nuisance > 0` the task gets hard enough to need training: the identity is a
finer pattern at half contrast, and every image gets its own illumination
gradient and colour cast (strength × `nuisance`). At `nuisance=1` an untrained
SphereNet-4 verifies unseen identities at about chance (≈0.56 on 600 pairs), so
a model must learn the invariance to do better."""

import os

import numpy as np
from PIL import Image


def identity_pattern(identity, seed=0, size=(112, 96), grid=(7, 6)):
    rng = np.random.default_rng([seed, identity])
    coarse = rng.uniform(0, 255, grid + (3,))
    return np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize(size[::-1], Image.Resampling.BICUBIC), np.float64)


def face_image(identity, index, seed=0, size=(112, 96), nuisance=0.0):
    rng = np.random.default_rng([seed, identity, index, 1])
    if not nuisance:
        image = np.roll(identity_pattern(identity, seed, size), rng.integers(-3, 4, 2), axis=(0, 1))
        return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    image = 128 + 0.5 * (identity_pattern(identity, seed, size, grid=(14, 12)) - 128)
    image = np.roll(image, rng.integers(-4, 5, 2), axis=(0, 1))
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / np.reshape(size, (2, 1, 1)) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(angle) * yy + np.sin(angle) * xx)[..., None] * rng.uniform(60, 160)
    cast = rng.normal(0, 30, 3) + rng.normal(0, 30)
    image = image + nuisance * (gradient + cast)
    return np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)


def make_identity_folders(root, identities=6, per_identity=8, seed=0, size=(112, 96), formats=("jpg", "png", "bmp"), nuisance=0.0):
    """root/<id_XXX>/<n>.<ext>; returns {relative path: label}."""
    layout = {}
    for identity in range(identities):
        folder = os.path.join(root, f"id_{identity:03d}")
        os.makedirs(folder, exist_ok=True)
        for index in range(per_identity):
            ext = formats[index % len(formats)]
            rel = f"id_{identity:03d}/{index:04d}.{ext}"
            Image.fromarray(face_image(identity, index, seed, size, nuisance)).save(os.path.join(root, rel))
            layout[rel] = identity
    return layout


def make_lfw(root, people=12, per_person=4, seed=100, folds=2, per_class=6, nuisance=0.0, disjoint=False):
    """LFW layout (Name/Name_0001.jpg) of synthetic people, and an LFW-format pairs file.

    Returns the pairs file path. Identities use seeds disjoint from training ones. With
    `disjoint=True` the people are dealt out to the folds and each fold's pairs name only
    its own people, as in LFW's View 2 (identity-disjoint folds).
    """

    names = [f"Person_{k:02d}" for k in range(people)]
    for k, name in enumerate(names):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(1, per_person + 1):
            Image.fromarray(face_image(k, i, seed, nuisance=nuisance)).save(os.path.join(root, name, f"{name}_{i:04d}.jpg"), quality=95)
    if folds * per_class > people * per_person * (per_person - 1) // 2:
        raise ValueError(f"{people} people × {per_person} images have fewer than {folds * per_class} distinct matched pairs")
    rng = np.random.default_rng(seed)
    lines, used = [f"{folds}\t{per_class}"], set()

    def draw(matched, members):  # a pair not drawn before (LFW lists each pair once)
        while True:
            if matched:
                name = names[members[rng.integers(len(members))]]
                i, j = sorted(rng.choice(np.arange(1, per_person + 1), 2, replace=False).tolist())
                line = f"{name}\t{i}\t{j}"
            else:
                a, b = sorted(rng.choice(members, 2, replace=False).tolist())
                line = f"{names[a]}\t{rng.integers(1, per_person + 1)}\t{names[b]}\t{rng.integers(1, per_person + 1)}"
            if line not in used:
                used.add(line)
                return line

    for fold in range(folds):
        members = np.arange(fold, people, folds) if disjoint else np.arange(people)
        if len(members) < 2:
            raise ValueError(f"{people} people cannot fill {folds} identity-disjoint folds of at least 2 people")
        lines += [draw(True, members) for _ in range(per_class)] + [draw(False, members) for _ in range(per_class)]
    path = os.path.join(root, "pairs.txt")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
