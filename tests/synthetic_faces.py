"""Synthetic identities in the real on-disk layouts (no face data set is reachable offline).

Each identity is a fixed random low-frequency colour pattern; its images are
that pattern plus per-image noise and a small shift, so identities are
learnable but not trivially identical."""

import os

import numpy as np
from PIL import Image


def identity_pattern(identity, seed=0, size=(112, 96)):
    rng = np.random.default_rng([seed, identity])
    coarse = rng.uniform(0, 255, (7, 6, 3))
    return np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize(size[::-1], Image.Resampling.BICUBIC), np.float64)


def face_image(identity, index, seed=0, size=(112, 96)):
    rng = np.random.default_rng([seed, identity, index, 1])
    image = np.roll(identity_pattern(identity, seed, size), rng.integers(-3, 4, 2), axis=(0, 1))
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)


def make_identity_folders(root, identities=6, per_identity=8, seed=0, size=(112, 96), formats=("jpg", "png", "bmp")):
    """root/<id_XXX>/<n>.<ext>; returns {relative path: label}."""
    layout = {}
    for identity in range(identities):
        folder = os.path.join(root, f"id_{identity:03d}")
        os.makedirs(folder, exist_ok=True)
        for index in range(per_identity):
            ext = formats[index % len(formats)]
            rel = f"id_{identity:03d}/{index:04d}.{ext}"
            Image.fromarray(face_image(identity, index, seed, size)).save(os.path.join(root, rel))
            layout[rel] = identity
    return layout
