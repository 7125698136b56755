"""sphereface_tf.face.landmarks and sphereface-landmarks: MTCNN's five points for every face of a tree (MTCNN faked here)."""

import os
import re
import sys
import types

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.commands import face_landmarks
from sphereface_tf.face.align import read_landmarks
from sphereface_tf.face.landmarks import NoFaceFound, detect_landmarks
from sphereface_tf.util import cli

KEYS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def face(x, y, w, h, points):
    return dict(box=[x, y, w, h], confidence=0.99, keypoints=dict(zip(KEYS, [tuple(p) for p in points])))


class FakeMTCNN:
    """Detections by the image's top-left pixel value: 0 no face, 1 one face, 2 a face in a corner and one central."""

    calls = []

    def __init__(self, device="CPU:0"):
        pass

    def detect_faces(self, images):
        FakeMTCNN.calls.append(len(images) if isinstance(images, list) else 1)
        batch = images if isinstance(images, list) else [images]
        out = []
        for image in batch:
            kind = int(image[0, 0, 0])
            corner = face(0, 0, 40, 40, np.arange(10).reshape(5, 2) + 1.0)
            central = face(100, 100, 50, 50, np.arange(10).reshape(5, 2) + 100.0)
            out.append([[], [central], [corner, central]][kind])
        return out if isinstance(images, list) else out[0]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mtcnn", types.SimpleNamespace(MTCNN=FakeMTCNN))
    FakeMTCNN.calls = []
    root = tmp_path / "lfw"
    for name, kinds in (("Ann_Lee", (1, 2)), ("Bo_Ek", (0,))):
        os.makedirs(root / name)
        for i, kind in enumerate(kinds, start=1):
            Image.fromarray(np.full((250, 250, 3), kind, np.uint8)).save(root / name / f"{name}_{i:04d}.png")
    fallback = tmp_path / "fallback.txt"
    fallback.write_text("".join(f"{k}\t" + "\t".join(str(103 + v) for v in range(10)) + "\n"
                                for k in ("Ann_Lee/Ann_Lee_0001.png", "Ann_Lee/Ann_Lee_0002.png", "Bo_Ek/Bo_Ek_0001.png")))
    return root, fallback


def run_script(monkeypatch, *argv):
    """Run `sphereface-landmarks ARGV`; a failure raises SystemExit with its status, as the console script exits."""
    code = cli.run(face_landmarks.main, list(argv))
    if code:
        raise SystemExit(code)


def test_the_central_face_is_kept_and_an_image_without_one_keeps_its_fallback(tree, tmp_path, monkeypatch, capsys):
    root, fallback = tree
    out = tmp_path / "marks.txt"
    run_script(monkeypatch, "--images", str(root), "--out", str(out), "--fallback", str(fallback))
    marks = read_landmarks(out)
    central = np.arange(10).reshape(5, 2) + 100.0
    np.testing.assert_allclose(marks["Ann_Lee/Ann_Lee_0001.png"], central)
    np.testing.assert_allclose(marks["Ann_Lee/Ann_Lee_0002.png"], central)  # not the corner face
    np.testing.assert_allclose(marks["Bo_Ek/Bo_Ek_0001.png"], central + 3)  # no face: the fallback
    assert FakeMTCNN.calls == [3]  # same-size images go in one batch
    printed = capsys.readouterr().out
    assert "2 images detected, 1 kept their --fallback landmarks" in printed
    assert "median 4.24 px" in printed and "1.500 of the eye distance" in printed  # each point 3·√2 away; eyes 2·√2 apart
    assert not os.path.exists(str(out) + ".partial")


def test_without_a_fallback_an_image_without_a_face_stops_the_run_by_name(tree, tmp_path, monkeypatch, capsys):
    root, _ = tree
    with pytest.raises(SystemExit) as stop:
        run_script(monkeypatch, "--images", str(root), "--out", str(tmp_path / "marks.txt"))
    assert stop.value.code == 2
    assert re.fullmatch(r"error: MTCNN found no face in 1 image\(s\), e.g. Bo_Ek/Bo_Ek_0001.png, .*pass --fallback[^\n]*\n",
                        capsys.readouterr().err)  # the command names its own flag
    assert not (tmp_path / "marks.txt").exists()


def test_the_library_names_the_images_without_a_face_and_no_flag(tree, tmp_path):
    root, _ = tree
    with pytest.raises(NoFaceFound) as stop:
        detect_landmarks(str(root), str(tmp_path / "marks.txt"), log=lambda line: None)
    assert stop.value.missing == ["Bo_Ek/Bo_Ek_0001.png"] and "--" not in str(stop.value)
    summary = detect_landmarks(str(root), str(tmp_path / "marks.txt"), fallback=str(tmp_path / "fallback.txt"),
                               log=lambda line: None)  # resumes from the partial file: no image is detected twice
    assert FakeMTCNN.calls == [3]
    assert (summary["images"], summary["detected"], summary["kept_fallback"]) == (3, 2, 1)
    assert summary["gap"]["images"] == 2 and summary["gap"]["median_px"] == pytest.approx(3 * 2 ** 0.5)


def test_an_interrupted_run_resumes_from_its_partial_file(tree, tmp_path, monkeypatch):
    root, fallback = tree
    out, partial = tmp_path / "marks.txt", tmp_path / "marks.txt.partial"
    # an earlier run finished the first image, then was cut off while writing the second line
    partial.write_text("Ann_Lee/Ann_Lee_0001.png\t" + "\t".join(["7"] * 10) + "\nAnn_Lee/Ann_Lee_0002.png\t1.0\t2")
    with pytest.raises(SystemExit):  # stopped again, for want of a fallback
        run_script(monkeypatch, "--images", str(root), "--out", str(out), "--batch-size", "1")
    assert FakeMTCNN.calls == [1, 1]  # the torn line is detected again, the finished one is not
    assert [len(line.split()) for line in partial.read_text().splitlines()] == [11, 11, 2]  # whole lines only
    run_script(monkeypatch, "--images", str(root), "--out", str(out), "--fallback", str(fallback))
    assert FakeMTCNN.calls == [1, 1]  # all three were known
    marks = read_landmarks(out)
    np.testing.assert_allclose(marks["Ann_Lee/Ann_Lee_0001.png"], np.full((5, 2), 7.0))
    np.testing.assert_allclose(marks["Ann_Lee/Ann_Lee_0002.png"], np.arange(10).reshape(5, 2) + 100.0)
    np.testing.assert_allclose(marks["Bo_Ek/Bo_Ek_0001.png"], np.arange(10).reshape(5, 2) + 103.0)


def test_a_missing_images_folder_or_a_bad_fallback_is_one_line(tree, tmp_path, monkeypatch, capsys):
    root, _ = tree
    with pytest.raises(SystemExit) as stop:
        run_script(monkeypatch, "--images", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "marks.txt"))
    assert stop.value.code == 2
    assert re.fullmatch(r"error: .*no-such-folder: image folder not found\n", capsys.readouterr().err)
    (tmp_path / "bad.txt").write_text("Ann_Lee/Ann_Lee_0001.png 1 2 3\n")
    with pytest.raises(SystemExit) as stop:
        run_script(monkeypatch, "--images", str(root), "--out", str(tmp_path / "marks.txt"), "--fallback",
                   str(tmp_path / "bad.txt"))
    assert stop.value.code == 2
    assert re.match(r"error: .*bad.txt:1: expected an image path and 10 numbers[^\n]*\n$", capsys.readouterr().err)
