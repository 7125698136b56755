"""bench/align_lfw.py: the aligned LFW tree carried to a lent GPU."""

import os
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.face.align import TEMPLATE_96x112, align_face

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "bench", "align_lfw.py")


def run_script(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", [SCRIPT, *argv])
    runpy.run_path(SCRIPT, run_name="__main__")


def test_each_face_lands_on_the_template_and_a_rerun_skips_it(tmp_path, monkeypatch, capsys):
    images, lines = tmp_path / "lfw", []
    yy, xx = np.mgrid[:250, :250]
    for name, scale, shift in (("Ann_Lee", 2.0, (20, 10)), ("Bo_Ek", 1.5, (40, 30))):
        # a face whose landmarks are the template scaled by `scale` and moved by `shift`; each point a white dot
        image = np.stack([xx * 0.4, yy * 0.4, (xx + yy) * 0.2], -1).astype(np.uint8)  # smooth: JPEG keeps it
        points = TEMPLATE_96x112 * scale + shift
        for x, y in points.round().astype(int):
            image[y - 2:y + 3, x - 2:x + 3] = 255
        os.makedirs(images / name)
        Image.fromarray(image).save(images / name / f"{name}_0001.png")
        lines.append(f"{name}/{name}_0001.png\t" + "\t".join(f"{v:.1f}" for v in points.ravel()))
    (tmp_path / "marks.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "aligned"
    run_script(monkeypatch, "--images", str(images), "--landmarks", str(tmp_path / "marks.txt"), "--out", str(out),
               "--workers", "1")
    assert "2 faces aligned, 0 already there" in capsys.readouterr().out
    for name, line in zip(("Ann_Lee", "Bo_Ek"), lines):
        face = np.asarray(Image.open(out / name / f"{name}_0001.png"))
        assert face.shape == (112, 96, 3)
        for x, y in TEMPLATE_96x112.round().astype(int):  # the white dots now sit on the template's points
            assert face[y, x].min() > 200
        source = np.asarray(Image.open(images / name / f"{name}_0001.png"))
        expected = align_face(source, np.array(line.split("\t")[1:], float))
        assert np.abs(face.astype(int) - expected).mean() < 4  # the same warp, up to JPEG's loss
    run_script(monkeypatch, "--images", str(images), "--landmarks", str(tmp_path / "marks.txt"), "--out", str(out),
               "--workers", "1")
    assert "0 faces aligned, 2 already there" in capsys.readouterr().out


def test_a_landmarks_file_for_another_tree_is_refused_with_the_fix(tmp_path, monkeypatch):
    (tmp_path / "marks.txt").write_text("Ann_Lee/Ann_Lee_0001.jpg\t" + "\t".join(["50"] * 10) + "\n")
    with pytest.raises(SystemExit, match="1 of its 1 images are not under .*give the folder that holds Name/Name_0001.jpg"):
        run_script(monkeypatch, "--images", str(tmp_path), "--landmarks", str(tmp_path / "marks.txt"),
                   "--out", str(tmp_path / "out"))
