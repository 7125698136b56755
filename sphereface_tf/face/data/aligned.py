"""An aligned copy of a face tree: every image with five landmarks warped to 112×96 and saved as JPEG.

    from sphereface_tf.face.data.aligned import write_aligned_tree
    write_aligned_tree("lfw-deepfunneled", "lfw_landmark_mtcnn.txt", "lfw-aligned")

Training, evaluation and `sphereface-hypersphere` align raw photographs themselves (their
`landmarks` settings); this writes the aligned tree once, small enough to carry to a lent
GPU (≈ 40 MB for LFW's 13,233 faces): JPEG quality 90 with optimised Huffman tables (the
same pixels as without them, ≈ 11 % smaller). The tree keeps the landmark file's relative
paths (extension included). Each file is written atomically; a rerun skips the faces
already written, so an interrupted run resumes.
"""

import os
from concurrent.futures import ProcessPoolExecutor

from PIL import Image

from sphereface_tf.face.align import LandmarkError, read_landmarks
from sphereface_tf.face.data.sources import load_face
from sphereface_tf.util.errors import InputError, check_output_dir
from sphereface_tf.util.files import atomic_write


def align_one(job):
    """Align one face (source, target, points, quality) unless the target exists; 1 if written, else 0."""
    source, target, points, quality = job
    if os.path.isfile(target):
        return 0
    face = load_face(source, points)
    with atomic_write(target, "wb") as handle:  # makes the person's folder too
        Image.fromarray(face).save(handle, format="JPEG", quality=quality, optimize=True)
    return 1


def write_aligned_tree(images, landmarks, out, quality=90, workers=None):
    """Align every image `landmarks` names (paths relative to `images`) into `out`; returns (written, already there)."""
    if not 1 <= quality <= 95:
        raise InputError(f"JPEG quality must be between 1 and 95, got {quality}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    if not os.path.isdir(images):
        raise InputError(f"{images}: image folder not found")
    check_output_dir(out, "output folder")
    points = read_landmarks(landmarks)
    missing = [path for path in points if not os.path.isfile(os.path.join(images, path))]
    if missing:
        raise LandmarkError(f"{landmarks}: {len(missing)} of its {len(points)} images are not under {images} "
                            f"(first: {missing[0]}); give the folder that holds Name/Name_0001.jpg")
    jobs = [(os.path.join(images, path), os.path.join(out, path), marks, quality) for path, marks in points.items()]
    if workers == 1:
        written = sum(map(align_one, jobs))
    else:
        with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
            written = sum(pool.map(align_one, jobs, chunksize=64))
    return written, len(jobs) - written
