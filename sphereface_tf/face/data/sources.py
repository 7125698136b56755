"""Face images on disk: identity folders and list files, read and aligned or resized to 112×96.

Layouts read:
  * a folder of identity sub-folders (`root/<identity>/<image>.jpg`, as aligned CASIA-WebFace);
  * a list file of `relative/path.jpg label` lines (paths relative to an image root).

Both prepared formats (`tfrecords`: JPEG shards for `tf.data`; `cache`: decoded
uint8 faces for any backend) are written from a `FaceList` made here, with the
label map (identity → label) beside them as `labels.json`.
"""

import collections
import dataclasses
import json
import os

import numpy as np
from PIL import Image

from sphereface_tf.face.align import CROP_SIZE, align_face
from sphereface_tf.util.errors import InputError, read_text_lines
from sphereface_tf.util.files import write_json

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
HEIGHT, WIDTH = CROP_SIZE[1], CROP_SIZE[0]
FACE_SHAPE = (HEIGHT, WIDTH, 3)  # what SphereNet takes: aligned 112×96 RGB


class FaceDataError(InputError):
    """Missing or malformed face data; the message names the file, folder or line."""


@dataclasses.dataclass
class FaceList:
    paths: list  # absolute image paths
    labels: np.ndarray  # int64
    names: list  # identity name of each label
    keys: list  # path relative to the image root (for landmark look-up)

    def __len__(self):
        return len(self.paths)


def scan_identity_folders(root):
    """Images under `root/<identity>/`, labels by sorted identity name."""
    if not os.path.isdir(root):
        raise FaceDataError(f"{root}: image folder not found" + (" (it is a file)" if os.path.exists(root) else ""))
    identities = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    paths, labels, keys = [], [], []
    for label, identity in enumerate(identities):
        for name in sorted(os.listdir(os.path.join(root, identity))):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                keys.append(f"{identity}/{name}")
                paths.append(os.path.join(root, identity, name))
                labels.append(label)
    if not paths:
        raise FaceDataError(
            f"{root}: no images found; expected identity sub-folders holding "
            f"{'/'.join(IMAGE_EXTENSIONS)} files (root/<identity>/<image>)"
        )
    return FaceList(paths, np.asarray(labels, np.int64), identities, keys)


def read_list_file(list_path, root):
    """`relative/path label` per line; every named file must exist."""
    if not os.path.isdir(root):
        raise FaceDataError(f"{root}: image folder not found")
    paths, labels, keys = [], [], []
    for number, line in enumerate(read_text_lines(list_path, FaceDataError, "list file"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise FaceDataError(f"{list_path}:{number}: expected 'path label', got {line.strip()[:120]!r}")
        if int(fields[1]) < 0:
            raise FaceDataError(f"{list_path}:{number}: labels must be >= 0, got {fields[1]}")
        path = os.path.join(root, fields[0])
        if not os.path.isfile(path):
            raise FaceDataError(f"{list_path}:{number}: image {path} does not exist")
        keys.append(fields[0])
        paths.append(path)
        labels.append(int(fields[1]))
    if not paths:
        raise FaceDataError(f"{list_path}: the list file names no images")
    labels = np.asarray(labels, np.int64)
    return FaceList(paths, labels, [str(i) for i in range(labels.max() + 1)], keys)


def drop_small_identities(faces, min_images):
    """Keep identities with at least `min_images` images; relabel 0…K−1 in order."""
    counts = collections.Counter(faces.labels.tolist())
    kept = sorted(label for label, n in counts.items() if n >= min_images)
    if not kept:
        raise FaceDataError(f"no identity has {min_images} or more images")
    new_label = {old: new for new, old in enumerate(kept)}
    keep = [i for i, label in enumerate(faces.labels) if label in new_label]
    return FaceList(
        [faces.paths[i] for i in keep], np.asarray([new_label[faces.labels[i]] for i in keep], np.int64),
        [faces.names[old] for old in kept], [faces.keys[i] for i in keep],
    )


def read_rgb(path):
    """An image file as RGB uint8 (grayscale expanded to 3 channels)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def fit_face(image, landmarks=None):
    """Align (with 5 landmarks) or resize an RGB image to the 112×96 crop."""
    if landmarks is not None:
        return align_face(image, landmarks)
    if image.shape[:2] != (HEIGHT, WIDTH):
        image = np.asarray(Image.fromarray(image).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR))
    return image


def load_face(path, landmarks=None):
    """Read an image and align or resize it to 112×96 RGB uint8."""
    return fit_face(read_rgb(path), landmarks)


def load_faces(paths, keys, landmarks=None, where=""):
    """Read images and align them (landmarks: dict key → 5 points) or resize them to 112×96.

    Returns `(images, resized)`: uint8 (N, 112, 96, 3) and whether any image had to
    be resized. Every key must have landmarks when they are given; `where` names
    the source in the error.
    """
    if landmarks is not None:
        missing = [key for key in keys if key not in landmarks]
        if missing:
            raise FaceDataError(f"no landmarks for {len(missing)} image(s){where}, e.g. {missing[0]}")
    images, resized = [], False
    for path, key in zip(paths, keys):
        image = read_rgb(path)
        resized |= landmarks is None and image.shape[:2] != (HEIGHT, WIDTH)
        images.append(fit_face(image, None if landmarks is None else landmarks[key]))
    return np.stack(images), resized


def iter_faces(faces, landmarks=None, skipped=None):
    """Yield `(index, image, label)` for each readable face, aligned or resized to 112×96.

    Unreadable images and images without landmarks (when `landmarks` is given) are
    appended to `skipped` as `(path, reason)` and left out, never fatal.
    """
    skipped = [] if skipped is None else skipped
    for index, (path, label, key) in enumerate(zip(faces.paths, faces.labels, faces.keys)):
        points = None
        if landmarks is not None:
            points = landmarks.get(key)
            if points is None:
                skipped.append((path, "no landmarks"))
                continue
        try:
            image = load_face(path, points)
        except Exception as err:  # PIL raises several types for corrupt files
            skipped.append((path, f"{type(err).__name__}: {err}"))
            continue
        yield index, image, int(label)


def skip_summary(skipped):
    """The summary fields about skipped images, and a one-line report of them (or None)."""
    fields = dict(skipped=len(skipped), skipped_examples=[f"{p}: {why}" for p, why in skipped[:20]],
                  missing_landmarks=sum(why == "no landmarks" for _, why in skipped))
    line = f"skipped {len(skipped)} unreadable image(s), e.g. {skipped[0][0]} ({skipped[0][1]})" if skipped else None
    return fields, line


def write_label_map(out_dir, names):
    """`labels.json`: identity name → label, for the identities `names` (label = position)."""
    write_json(os.path.join(out_dir, "labels.json"), {name: label for label, name in enumerate(names)})


def num_classes(data_dir):
    """Number of identities of a prepared data set (its `labels.json`)."""
    path = os.path.join(data_dir, "labels.json")
    if not os.path.isfile(path):
        raise FaceDataError(f"{data_dir}: not a prepared face data set (no labels.json); "
                            f"write one with `python face/prepare.py --images <folder> --out {data_dir}`")
    try:
        with open(path, encoding="utf-8") as handle:
            labels = json.load(handle)
    except (ValueError, UnicodeDecodeError) as err:
        raise FaceDataError(f"{path}: not valid JSON ({err}); run face/prepare.py again") from err
    if not isinstance(labels, dict) or not labels:
        raise FaceDataError(f"{path}: expected a non-empty {{identity: label}} map; run face/prepare.py again")
    return len(labels)


def load_folder(root, landmarks=None, per_identity=None):
    """Faces under `root/<identity>/<image>`, preprocessed as for training.

    Each image is aligned with its 5-point landmarks (a dict keyed by
    `identity/image`, as `align.read_landmarks` returns) or resized to 112×96.
    `per_identity` keeps the first N images of each identity. Returns
    `(images, faces)`: uint8 (N, 112, 96, 3) crops and the `FaceList`
    (paths, labels, identity names, keys).
    """
    faces = scan_identity_folders(root)
    if per_identity is not None:
        seen = collections.Counter()
        keep = []
        for i, label in enumerate(faces.labels.tolist()):
            seen[label] += 1
            if seen[label] <= per_identity:
                keep.append(i)
        faces = FaceList([faces.paths[i] for i in keep], faces.labels[keep], faces.names, [faces.keys[i] for i in keep])
    images, _ = load_faces(faces.paths, faces.keys, landmarks, where=f" under {root}")
    return images, faces
