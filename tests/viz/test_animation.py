"""The training animation: the plotly frames and the GIF images show the frames' features, titled by epoch and λ."""

import numpy as np
import pytest

from sphereface_tf.training.callbacks import FeatureFrame
from sphereface_tf.viz.animation import (
    animation_figure, animation_images, animation_page, frame_arrays, frame_title, side_by_side, thin_frames, write_animation)


def _frames(dim, count=4, n=60, classes=3, lam=True):
    rng = np.random.default_rng(dim)
    labels = np.arange(n) % classes
    frames = [FeatureFrame(e, 1000.0 / (1 + e) if lam else None, rng.normal(size=(n, dim)).astype("float32") * 5,
                           rng.normal(size=(dim, classes)).astype("float32")) for e in range(count)]
    return frames, labels


def _unit(a):
    a = np.asarray(a, np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.mark.parametrize("dim", [2, 3])
def test_each_plotly_frame_holds_that_epochs_unit_features(dim):
    frames, labels = _frames(dim)
    fig = animation_figure(frames, labels, ["a", "b", "c"], title="angular softmax")
    assert len(fig.frames) == 4 and [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "2", "3"]
    for frame, plotted in zip(frames, fig.frames):
        assert plotted.layout.title.text == f"angular softmax — {frame_title(frame.epoch, frame.lam)}"
        for c in range(3):
            trace = plotted.data[c]
            points = np.stack([getattr(trace, k) for k in "xyz"[:dim]], 1)
            expected = _unit(frame.features[labels == c])
            if dim == 2:  # the circle's radial jitter changes the length only
                np.testing.assert_allclose(_unit(points), expected, atol=1e-9)
                assert np.all(np.abs(np.linalg.norm(points, axis=1) - 1) <= 0.0601)
            else:
                np.testing.assert_allclose(points, expected, atol=1e-9)
        w = _unit(frame.weights.T)
        for c in range(3):  # the class directions follow the weights
            line = plotted.data[3 + c]
            tip = np.array([getattr(line, k)[1] for k in "xyz"[:dim]])
            np.testing.assert_allclose(tip / np.linalg.norm(tip), w[c], atol=1e-9)
    assert "λ = 1000" in fig.layout.title.text


def test_titles_gif_images_and_files(tmp_path):
    assert frame_title(3, 5.0) == "epoch 3 · λ = 5" and frame_title(2) == "epoch 2"
    frames, labels = _frames(3, count=5)
    images = animation_images(frames, labels, views=2)
    assert len(images) == 5 and len({im.size for im in images}) == 1
    assert not np.array_equal(np.asarray(images[0]), np.asarray(images[-1]))
    fig, written = write_animation(frames, labels, None, tmp_path / "a.html", tmp_path / "a.gif", title="t", at_most=3)
    from PIL import Image

    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3 and gif.size == images[0].size
    page = (tmp_path / "a.html").read_text()
    assert "Plotly.newPlot" in page and '<script src="http' not in page and "cdn.plot.ly" not in page.split("<body>")[0]
    both = animation_page({"one": fig, "two": fig})
    assert both.count("Plotly.newPlot") == 2 and both.count("plotly.js v") <= 2
    joined = side_by_side([written, written])
    assert joined[0].size == (2 * written[0].width, written[0].height)
    arrays = frame_arrays(frames)
    assert arrays["features"].shape == (5, 60, 3) and arrays["weights"].shape == (5, 3, 3)
    np.testing.assert_array_equal(arrays["epoch"], np.arange(5))
    assert np.isnan(frame_arrays(_frames(2, lam=False)[0])["lam"]).all()


def test_thin_frames_keeps_first_and_last_and_bad_input_is_named():
    kept = thin_frames(list(range(100)), at_most=7)
    assert kept[0] == 0 and kept[-1] == 99 and len(kept) == 7
    assert thin_frames([1, 2, 3], at_most=7) == [1, 2, 3]
    frames, labels = _frames(3)
    with pytest.raises(ValueError, match="at least one frame"):
        animation_figure([], labels)
    with pytest.raises(ValueError, match="2-D or 3-D"):
        animation_figure(_frames(4)[0], labels)
    with pytest.raises(ValueError, match="same number of frames"):
        side_by_side([[1, 2], [1]])
