"""Five-point face alignment onto the standard 96×112 SphereFace template.

Landmarks are (x, y) pixel coordinates in the order left eye, right eye, nose
tip, left mouth corner, right mouth corner — the order of the public
CASIA-WebFace / LFW landmark lists (`path x1 y1 x2 y2 … x5 y5` per line).
"""

import numpy as np
from PIL import Image

from sphereface_tf.util.errors import InputError, read_text_lines

# The official SphereFace crop template (matlab/preprocess code), for a 96 wide × 112 high crop.
TEMPLATE_96x112 = np.array(
    [[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655], [62.7299, 92.2041]],
    dtype=np.float64,
)
CROP_SIZE = (96, 112)  # width, height


class LandmarkError(InputError):
    """A landmark file or line is malformed; the message names the file and line."""


def similarity_transform(src, dst):
    """Least-squares similarity (rotation, uniform scale, translation) mapping src → dst.

    Umeyama (1991). `src`, `dst`: (N, 2) points, N ≥ 2. Returns a 2×3 matrix M
    with dst ≈ src @ M[:, :2].T + M[:, 2].
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching (N, 2) point sets with N >= 2, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var == 0:
        raise ValueError("the source landmarks all coincide; cannot estimate a transform")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # no reflections
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_var
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(image, landmarks, template=TEMPLATE_96x112, size=CROP_SIZE):
    """Warp `image` (H, W[, C] uint8) so its 5 landmarks land on the template; returns (112, 96[, C]) uint8."""
    landmarks = np.asarray(landmarks, np.float64).reshape(-1, 2)
    matrix = similarity_transform(landmarks, template)
    # PIL wants the inverse map: output pixel (x, y) → input pixel.
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    pil = Image.fromarray(np.asarray(image, dtype=np.uint8))
    warped = pil.transform(size, Image.Transform.AFFINE, inverse.ravel().tolist(), resample=Image.Resampling.BILINEAR)
    return np.asarray(warped)


def read_landmarks(path):
    """Parse a landmark list: `relative/path.jpg x1 y1 … x5 y5` per line → dict path → (5, 2)."""
    result = {}
    lines = read_text_lines(path, LandmarkError, "landmark file")
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 11:
            raise LandmarkError(
                f"{path}:{number}: expected an image path and 10 numbers (x y of 5 landmarks), "
                f"got {len(fields)} fields: {line.strip()[:120]!r}"
            )
        try:
            points = np.array([float(v) for v in fields[1:]]).reshape(5, 2)
        except ValueError:
            raise LandmarkError(f"{path}:{number}: landmark coordinates must be numbers: {line.strip()[:120]!r}") from None
        if not np.isfinite(points).all():
            raise LandmarkError(f"{path}:{number}: landmark coordinates must be finite: {line.strip()[:120]!r}")
        result[fields[0]] = points
    if not result:
        raise LandmarkError(f"{path}: no landmarks found (empty file)")
    return result
