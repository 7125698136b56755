"""sphereface-hypersphere (the paper's Fig. 5): choosing identities, the split, the table's angles, and what one run writes."""

import csv
import itertools
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.face.data import FaceDataError
from sphereface_tf.face.hypersphere import (
    HypersphereSettings, animation_subset, choose_identities, heldout_count, hypersphere, mean_rows, pair_statistics,
    stratified_split, weight_angles)
from sphereface_tf.face.synthetic import face_image, make_identity_folders
from sphereface_tf.util.errors import InputError


def _folder(root, counts):
    """root/<name>/<k>.jpg with counts[name] synthetic faces each."""
    for identity, (name, n) in enumerate(counts.items()):
        os.makedirs(root / name)
        for k in range(n):
            Image.fromarray(face_image(identity, k, 0)).save(root / name / f"{k:04d}.jpg")
    return str(root)


def loop_angles(features, labels):
    """The four table angles by a plain loop over every pair of faces (degrees, float64)."""
    f = np.asarray(features, np.float64)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    intra, inter = [], []
    for a, b in itertools.combinations(range(len(f)), 2):
        angle = np.degrees(np.arccos(np.clip(float(f[a] @ f[b]), -1.0, 1.0)))
        (intra if labels[a] == labels[b] else inter).append(angle)
    return dict(max_intra_deg=max(intra), min_inter_deg=min(inter), mean_intra_deg=float(np.mean(intra)),
                mean_inter_deg=float(np.mean(inter)))


# ------------------------------------------------------------------------------------- no training
def test_choose_identities_takes_the_most_images_ties_by_name(tmp_path):
    root = _folder(tmp_path / "faces", {"Dora": 5, "Bea": 7, "Abe": 5, "Cy": 4, "Eve": 9})
    faces = choose_identities(root, 3)
    assert faces.names == ["Eve", "Bea", "Abe"]  # 9, 7, then the tie of 5 goes to Abe before Dora
    assert np.bincount(faces.labels).tolist() == [9, 7, 5]
    assert all(os.path.dirname(key) == faces.names[label] for key, label in zip(faces.keys, faces.labels))
    assert choose_identities(root, 4).names[-1] == "Dora"
    with pytest.raises(FaceDataError, match="asked for 6 identities, the folder has 5"):
        choose_identities(root, 6)
    small = _folder(tmp_path / "small", {"A": 6, "B": 3})
    with pytest.raises(FaceDataError, match=r"too few: B \(3\); ask for fewer identities"):
        choose_identities(small, 2)


def test_split_is_stratified_fixed_and_leaves_two_on_each_side():
    labels = np.repeat(np.arange(4), [4, 5, 20, 101])
    held = stratified_split(labels, 0.2)
    for c, n in enumerate([4, 5, 20, 101]):
        assert held[labels == c].sum() == heldout_count(n, 0.2) == {4: 2, 5: 2, 20: 4, 101: 20}[n]
    np.testing.assert_array_equal(held, stratified_split(labels, 0.2))  # the same split for every run
    assert not np.array_equal(held, stratified_split(labels, 0.2, seed=1))
    assert heldout_count(10, 0.9) == 8  # at least two stay for training


def test_pair_statistics_against_a_loop_over_pairs():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), [3, 7, 2, 11, 6])
    features = rng.normal(size=(len(labels), 3)) * rng.uniform(0.1, 9, (len(labels), 1)) + 0.8 * rng.normal(size=(5, 3))[labels]
    row, histogram = pair_statistics(features, labels, 5)
    expected = loop_angles(features, labels)
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, abs=1e-3), key
    n = len(labels)
    same = sum(np.sum(labels == c) * (np.sum(labels == c) - 1) // 2 for c in range(5))
    assert sum(histogram["intra"]) == same and sum(histogram["inter"]) == n * (n - 1) // 2 - same


def test_weight_angles_and_seed_means():
    w = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.5]])  # three orthogonal class directions, any length
    assert weight_angles(w) == pytest.approx((90.0, 90.0))
    rows = [dict(variant="angular", m=4, seed=s, train_accuracy=a, heldout_accuracy=a / 2, max_intra_deg=d)
            for s, a, d in ((0, 0.9, 30.0), (1, 0.7, 50.0), (2, 0.8, 40.0))]
    rows.append(dict(variant="angular", m=1, seed=0, train_accuracy=0.5, heldout_accuracy=0.5))  # one seed: no mean row
    (mean,) = mean_rows(rows)
    assert mean["run"] == "angular_m4" and mean["seed"] is None and mean["seeds"] == [0, 1, 2]
    assert mean["train_accuracy"] == pytest.approx(0.8) and mean["train_accuracy_sd"] == pytest.approx(0.1)
    assert mean["max_intra_deg"] == pytest.approx(40.0) and mean["max_intra_deg_sd"] == pytest.approx(10.0)


def test_settings_say_what_is_wrong():
    with pytest.raises(InputError, match=r"margins must be whole numbers >= 1, got \[1, 2.5\]"):
        HypersphereSettings("in", "out", margins=(1, 2.5)).validate()
    with pytest.raises(InputError, match="heldout must be a share between 0 and 1"):
        HypersphereSettings("in", "out", heldout=0.0).validate()
    with pytest.raises(InputError, match="seeds must be distinct"):
        HypersphereSettings("in", "out", seeds=(1, 1)).validate()
    assert [r[0] for r in HypersphereSettings("in", "out", margins=(1, 4), variants=("modified", "angular"),
                                              seeds=(0, 3)).runs()] == [
        "modified_seed0", "modified_seed3", "angular_m1_seed0", "angular_m1_seed3", "angular_m4_seed0", "angular_m4_seed3"]


def test_animation_subset_is_fixed_and_capped_per_identity():
    labels = np.repeat(np.arange(3), [80, 10, 51])
    chosen = animation_subset(labels, per_identity=50)
    assert np.bincount(labels[chosen]).tolist() == [50, 10, 50]
    np.testing.assert_array_equal(chosen, animation_subset(labels, per_identity=50))
    assert np.all(np.diff(chosen) > 0)


# ------------------------------------------------------------------------------------- one tiny command
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Three of four synthetic identities, m = 1 and 2, two seeds, two epochs (about a minute on two cores)."""
    root = tmp_path_factory.mktemp("hypersphere")
    make_identity_folders(root / "faces", identities=4, per_identity=9, formats=("jpg",))
    os.remove(root / "faces" / "id_003" / "0000.jpg")  # id_003 has the fewest faces: left out
    settings = HypersphereSettings(images=str(root / "faces"), out=str(root / "out"), identities=3, margins=(1, 2), seeds=(0, 1),
                                   input_height=28, epochs=2, batch_size=8, thumbnail_width=12)
    lines = []
    table = hypersphere(settings, log=lines.append)
    return settings, table, "\n".join(lines)


def _npz(out, run):
    return np.load(os.path.join(out, "features", f"{run}.npz"))


def _plotly_traces(html):
    """The data list of the first Plotly.newPlot call of a page (typed arrays decoded)."""
    start = html.index("Plotly.newPlot(")
    rest = html[html.index("[", start):]
    data, _ = json.JSONDecoder().raw_decode(rest)

    def decode(value):
        if isinstance(value, dict) and "bdata" in value:
            import base64

            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).reshape(value.get("shape", -1))
        return np.asarray(value)

    return data, decode


@pytest.mark.slow
def test_table_angles_are_those_of_the_saved_features(tiny_run):
    settings, table, log = tiny_run
    out = settings.out
    assert "id_000" in log and "id_003" not in log  # the chosen identities are printed, the one with fewest faces left out
    runs = [r for r in table if r["seed"] is not None]
    assert [r["run"] for r in runs] == ["angular_m1_seed0", "angular_m1_seed1", "angular_m2_seed0", "angular_m2_seed1"]
    saved = json.load(open(os.path.join(out, "table.json")))
    assert saved["rows"] == table and saved["split_seed"] == 0
    first = _npz(out, runs[0]["run"])
    for row in runs:
        d = _npz(out, row["run"])
        features, labels, held = d["features"], d["labels"], d["heldout"]
        np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(d["weights"], axis=1), 1.0, atol=1e-5)
        assert d["weights"].shape == (3, 3) and list(d["names"]) == ["id_000", "id_001", "id_002"]
        np.testing.assert_array_equal(held, first["heldout"])  # one split for every run
        np.testing.assert_array_equal(held, stratified_split(labels, settings.heldout))
        assert all(os.path.isfile(os.path.join(settings.images, p)) for p in d["paths"])  # relative to --images
        for prefix, mask in (("", held), ("train_", ~held)):
            for key, value in loop_angles(features[mask], labels[mask]).items():
                assert row[prefix + key] == pytest.approx(value, abs=2e-3), (row["run"], prefix + key)
        predicted = np.argmax(features @ d["weights"].T, 1)  # A-Softmax at inference: the class of the nearest direction
        assert row["heldout_accuracy"] == pytest.approx(np.mean(predicted[held] == labels[held]))
        assert row["train_accuracy"] == pytest.approx(np.mean(predicted[~held] == labels[~held]))
    means = {r["run"]: r for r in table if r["seed"] is None}
    assert set(means) == {"angular_m1", "angular_m2"}
    for name, mean in means.items():
        members = [r for r in runs if r["run"].startswith(name + "_")]
        assert mean["max_intra_deg"] == pytest.approx(np.mean([r["max_intra_deg"] for r in members]))
        assert mean["max_intra_deg_sd"] == pytest.approx(np.std([r["max_intra_deg"] for r in members], ddof=1))
    with open(os.path.join(out, "table.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["run"] for r in rows] == [r["run"] for r in table]
    for r, t in zip(rows, table):
        assert float(r["train_min_inter_deg"]) == pytest.approx(t["train_min_inter_deg"])
        assert r["seed"] == ("" if t["seed"] is None else str(t["seed"]))


@pytest.mark.slow
def test_page_projector_and_figures_show_the_saved_features(tiny_run):
    settings, table, _ = tiny_run
    out = settings.out
    for name in ("spheres.png", "angles.png", "sphere_angular_m2_seed1.png", "angles_angular_m1_seed0.png"):
        with Image.open(os.path.join(out, name)) as image:
            assert image.width > 400 and image.height > 200
    html = open(os.path.join(out, "hypersphere.html")).read()
    assert not re.search(r"<script[^>]+src=", html)  # nothing loaded from the network
    assert html.count("data:image/jpeg;base64,") == len(_npz(out, "angular_m1_seed0")["labels"])  # one thumbnail per face
    data, decode = _plotly_traces(html)
    checked = 0
    for trace in data:
        if trace.get("customdata") is None:
            continue
        run = [r for r in table if r["seed"] is not None][checked // 3]["run"]  # three identities per run, in run order
        d = _npz(out, run)
        index = np.asarray([int(c[0]) for c in trace["customdata"]])
        xyz = np.stack([decode(trace[k]).astype(np.float64) for k in "xyz"], 1)
        np.testing.assert_allclose(xyz, d["features"][index], atol=1e-5)
        assert {c[1] for c in trace["customdata"]} == set(d["paths"][index])
        checked += 1
    assert checked == 4 * 3
    for run in ("angular_m1_seed0", "angular_m2_seed1"):
        tensors = np.loadtxt(os.path.join(out, "projector", run, "tensors.tsv"), delimiter="\t")
        np.testing.assert_allclose(tensors, _npz(out, run)["features"], atol=1e-5)
        with open(os.path.join(out, "projector", run, "metadata.tsv")) as handle:
            header, *lines = handle.read().splitlines()
        assert header.split("\t") == ["identity", "split", "image"] and len(lines) == len(tensors)


@pytest.mark.slow
def test_animation_frames_are_the_models_features(tiny_run):
    settings, _, _ = tiny_run
    out = settings.out
    for run in ("angular_m1_seed0", "angular_m2_seed1"):
        final = _npz(out, run)
        frames = np.load(os.path.join(out, "features", f"{run}_animation.npz"))
        assert frames["epoch"].tolist() == [0, 1, 2] and frames["features"].shape == (3, len(frames["index"]), 3)
        np.testing.assert_array_equal(frames["labels"], final["labels"][frames["index"]])
        last = frames["features"][-1] / np.linalg.norm(frames["features"][-1], axis=1, keepdims=True)
        np.testing.assert_allclose(last, final["features"][frames["index"]], atol=1e-4)  # the last frame: the trained model
        assert not np.allclose(frames["features"][0], frames["features"][-1], atol=1e-3)  # training moved them
        assert frames["lam"][0] == pytest.approx(1000.0) and frames["lam"][-1] < frames["lam"][0]
        np.testing.assert_allclose(frames["weights"][-1].T / np.linalg.norm(frames["weights"][-1].T, axis=1, keepdims=True),
                                   final["weights"], atol=1e-5)
        with Image.open(os.path.join(out, f"animation_{run}.gif")) as gif:
            assert gif.n_frames == 3
        page = open(os.path.join(out, f"animation_{run}.html")).read()
        assert not re.search(r"<script[^>]+src=", page) and re.search(r"(λ|\\u03bb) = 1000", page)  # the first frame's λ
