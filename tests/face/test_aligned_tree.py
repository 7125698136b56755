"""sphereface_tf.face.data.aligned and sphereface-align: the aligned tree carried to a lent GPU."""

import os

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.commands import face_align
from sphereface_tf.face.align import TEMPLATE_96x112, LandmarkError, align_face
from sphereface_tf.face.data.aligned import write_aligned_tree
from sphereface_tf.util import cli
from sphereface_tf.util.errors import InputError



def run_script(monkeypatch, *argv):
    """Run `sphereface-align ARGV` and expect it to succeed."""
    assert cli.run(face_align.main, list(argv)) == 0


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


def test_a_landmarks_file_for_another_tree_is_refused_with_the_fix(tmp_path, capsys):
    (tmp_path / "marks.txt").write_text("Ann_Lee/Ann_Lee_0001.jpg\t" + "\t".join(["50"] * 10) + "\n")
    with pytest.raises(LandmarkError, match="1 of its 1 images are not under .*give the folder that holds Name/Name_0001.jpg"):
        write_aligned_tree(str(tmp_path), str(tmp_path / "marks.txt"), str(tmp_path / "out"), workers=1)
    argv = ["--images", str(tmp_path), "--landmarks", str(tmp_path / "marks.txt"), "--out", str(tmp_path / "out")]
    assert cli.run(face_align.main, argv) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "out").exists()


@pytest.mark.parametrize("quality, workers, message", [(0, 1, "quality must be between 1 and 95"),
                                                       (96, 1, "quality must be between 1 and 95"),
                                                       (90, 0, "workers must be >= 1")])
def test_bad_settings_are_refused_before_any_work(tmp_path, quality, workers, message):
    with pytest.raises(InputError, match=message):
        write_aligned_tree(str(tmp_path), str(tmp_path / "marks.txt"), str(tmp_path / "out"), quality=quality,
                           workers=workers)
