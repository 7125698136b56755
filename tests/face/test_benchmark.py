"""The identity-disjoint LFW benchmark on a synthetic tree in LFW's layout."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from sphereface_tf.commands import face_benchmark
from sphereface_tf.face import benchmark
from sphereface_tf.face.benchmark import tuning
from sphereface_tf.face.data import scan_identity_folders
from sphereface_tf.face.synthetic import make_lfw
from sphereface_tf.face.training import SCHEMA
from sphereface_tf.face.verification import read_pairs
from sphereface_tf.util import cli
from sphereface_tf.util.errors import ConfigError, InputError

TINY = ["--depth", "4", "--embedding-dim", "16", "--steps", "4", "--checkpoint-every", "2", "--batch-size", "8",
        "--learning-rate", "0.01"]


@pytest.fixture(scope="module")
def lfw(tmp_path_factory):
    root = tmp_path_factory.mktemp("lfw")
    pairs = make_lfw(root, people=30, per_person=3, folds=3, per_class=4, disjoint=True)
    return str(root), pairs


def test_each_fold_trains_on_the_other_folds_people_only(lfw):
    root, pairs_path = lfw
    faces = scan_identity_folders(root)
    people = benchmark.fold_people(read_pairs(pairs_path))
    assert sorted(people) == [1, 2, 3]
    for k in people:
        index, labels, names = benchmark.split_for_fold(faces, people, k)
        trained = {faces.names[label] for label in faces.labels[index]}
        assert trained == set(names)
        assert not trained & people[k]  # identity-disjoint
        others = set().union(*(p for j, p in people.items() if j != k))
        assert trained == others  # every one of them has 3 ≥ 2 images
        assert sorted(set(labels.tolist())) == list(range(len(names)))
        assert all(np.sum(faces.labels[index] == faces.labels[i]) >= 2 for i in index)


def test_min_images_drops_people_with_fewer(lfw):
    root, pairs_path = lfw
    faces = scan_identity_folders(root)
    people = benchmark.fold_people(read_pairs(pairs_path))
    _, _, names = benchmark.split_for_fold(faces, people, 1, min_images=4)
    assert names == []


def test_a_pairs_file_whose_folds_share_people_is_refused(tmp_path):
    pairs_path = make_lfw(tmp_path, people=8, per_person=3, folds=2, per_class=4, disjoint=False, seed=3)
    faces = scan_identity_folders(str(tmp_path))
    people = benchmark.fold_people(read_pairs(pairs_path))
    assert people[1] & people[2]
    with pytest.raises(InputError, match="not an identity-disjoint split"):
        benchmark.split_for_fold(faces, people, 1)


@pytest.mark.slow
def test_the_command_writes_per_fold_results_and_does_not_redo_a_finished_fold(lfw, tmp_path, monkeypatch, capsys):
    root, pairs_path = lfw
    out = str(tmp_path / "bench")
    argv = ["--images", root, "--pairs", pairs_path, "--out", out, "--folds", "1-2", "--variants", "angular", *TINY]
    assert cli.run(face_benchmark.main, argv) == 0
    people = benchmark.fold_people(read_pairs(pairs_path))
    for k in (1, 2):
        record = json.load(open(os.path.join(out, "angular-m4", f"fold{k}.json")))
        assert record["identity_disjoint"] is True and record["finite"] is True
        others = set().union(*(p for j, p in people.items() if j != k))
        assert record["train_people"] == len(others) and record["test_people"] == len(people[k])
        assert np.isfinite(record["final_loss"])
        centred = record["centered"]  # the official evaluation's centred scores, beside the plain cosine
        for scored in (record, centred):  # the figures are those of the fold's own ROC curve
            fpr, tpr = np.asarray(scored["roc"]["fpr"]), np.asarray(scored["roc"]["tpr"])
            assert len(fpr) == 200 and np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
            assert scored["roc_auc"] == pytest.approx(np.trapezoid(tpr, fpr), abs=0.02)
            best = np.max((tpr + 1 - fpr) / 2)  # the best a threshold can do on these balanced pairs
            assert scored["accuracy"] <= best + 1e-9, (scored["accuracy"], best)  # thresholds from other sub-folds do no better
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["angular-m4"]["folds_done"] == [1, 2] and summary["angular-m4"]["diverged"] == []
    assert summary["angular-m4"]["centered"]["accuracies"] == [
        json.load(open(os.path.join(out, "angular-m4", f"fold{k}.json")))["centered"]["accuracy"] for k in (1, 2)]
    table = open(os.path.join(out, "table.md")).read()
    assert "| angular-m4 | 2 |" in table and "centred features" in table
    assert os.path.getsize(os.path.join(out, "roc.png")) > 1000

    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(benchmark, "train_fold", no_training)
    assert cli.run(face_benchmark.main, argv) == 0  # both folds done: nothing retrained
    # a report made in parts: a later call's table also shows the runs of earlier calls with the same settings,
    # never a run folder trained with other settings
    other = json.load(open(os.path.join(out, "angular-m4", "fold1.json")))
    other["settings"].update(m=2, weight_decay=0.005)
    os.makedirs(os.path.join(out, "angular-m2"))
    json.dump(other, open(os.path.join(out, "angular-m2", "fold1.json"), "w"))
    os.makedirs(os.path.join(out, "angular-m3"))
    json.dump(dict(record, settings=dict(record["settings"], m=3)), open(os.path.join(out, "angular-m3", "fold2.json"), "w"))
    monkeypatch.undo()
    capsys.readouterr()
    assert cli.run(face_benchmark.main, [*argv[:8], "--variants", "modified", *TINY]) == 0
    assert "angular-m2: left out of the table, trained with other settings (weight_decay 0.005 there, 0.0005 now)" in (
        capsys.readouterr().out)
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert list(summary) == ["modified", "angular-m3", "angular-m4"]
    assert summary["angular-m4"]["folds_done"] == [1, 2] and summary["angular-m3"]["folds_done"] == [2]
    assert "| angular-m3 | 1 |" in open(os.path.join(out, "table.md")).read()
    monkeypatch.setattr(benchmark, "train_fold", no_training)
    # the same --out with another recipe: refused, not mixed with the finished folds
    capsys.readouterr()
    assert cli.run(face_benchmark.main, [*argv, "--weight-decay", "0.005"]) == 2
    assert "fold1.json was trained with other settings (weight_decay 0.0005 there, 0.005 now)" in capsys.readouterr().err
    assert cli.run(face_benchmark.main, [*argv, "--min-images", "3"]) == 2
    assert cli.run(face_benchmark.main, [*argv, "--log-every", "7"]) == 0  # how often it logs changes no result
    # "auto" precision is compared as what it meant: a CPU's float32 fold is not continued in bfloat16
    assert record["precision_used"] == "float32"
    assert cli.run(face_benchmark.main, [*argv, "--precision", "mixed_bfloat16"]) == 2
    assert "precision 'float32' there, 'mixed_bfloat16' now" in capsys.readouterr().err
    # the same settings on other faces (the tree aligned again with other landmarks, say): refused as well
    again = tmp_path / "lfw-again"
    shutil.copytree(root, again)
    person = sorted(os.listdir(again))[0]
    image = again / person / sorted(os.listdir(again / person))[0]
    pixels = np.asarray(Image.open(image)).copy()
    pixels[:8] = 255 - pixels[:8]
    Image.fromarray(pixels).save(image)
    assert cli.run(face_benchmark.main, ["--images", str(again), *argv[2:]]) == 2
    assert re.search(r"fold1.json was trained with other settings \(faces '[0-9a-f]{16}' there, '[0-9a-f]{16}' now\): "
                     r"a finished fold is never mixed with another recipe's or other faces'", capsys.readouterr().err)
    # a fold recorded before the faces were fingerprinted could have been made on any faces
    old = json.load(open(os.path.join(out, "angular-m4", "fold1.json")))
    del old["faces"]
    json.dump(old, open(os.path.join(out, "angular-m4", "fold1.json"), "w"))
    assert cli.run(face_benchmark.main, argv) == 2
    assert "faces 'not recorded' there" in capsys.readouterr().err


@pytest.mark.slow
def test_a_diverging_fold_is_recorded_and_never_scored(lfw, tmp_path):
    root, pairs_path = lfw
    out = str(tmp_path / "bench")
    argv = ["--images", root, "--pairs", pairs_path, "--out", out, "--folds", "3", "--variants", "original",
            *TINY[:-2], "--learning-rate", "1e30"]
    assert cli.run(face_benchmark.main, argv) == 3
    record = json.load(open(os.path.join(out, "original", "fold3.json")))
    assert record["finite"] is False and "accuracy" not in record
    assert "not finite" in record["diverged"] and "learning rate 1e+30" in record["diverged"]
    assert json.load(open(os.path.join(out, "summary.json")))["original"]["diverged"] == [3]


TOOLS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "tools")


def test_the_device_candidates_are_valid_settings():
    """tools/lfw_candidates.json (the next device call's tuning set) validates against the recipe: no wasted call."""
    candidates = tuning.read_candidates("@" + os.path.join(TOOLS, "lfw_candidates.json"))
    assert len(candidates) >= 1 and not any(name.startswith("_") for name in candidates)
    base = dict(SCHEMA.defaults(), **SCHEMA.read_toml(os.path.join(TOOLS, os.pardir, "face", "configs", "sphereface20_lfw.toml")))
    for name, change in candidates.items():
        settings, _ = tuning.candidate_settings(base, change, name)
        assert all(settings[key] == value for key, value in change.items() if key != "min_images")
    # bad candidates: one ConfigError saying what is wrong and naming where it came from
    for text, words in [("@/no/such.json", "--candidates @/no/such.json: cannot read the file"),
                        ("{base: 1}", "--candidates: not JSON"), ('{"base": 1}', "give a JSON object of name → settings"),
                        ('{"_only": {}}', "give a JSON object"),
                        ('{"a": {}, "a": {"shift": 4}}', "--candidates: 'a' is given twice in one object")]:
        with pytest.raises(ConfigError, match=re.escape(words)):
            tuning.read_candidates(text, "--candidates")


def test_bench_lfw_chooses_candidate_and_scoring_on_complete_finite_tuning_folds():
    choose = tuning.choose

    def tuned(cosine, centered=None, diverged=(), folds=(6, 7, 8)):
        return dict(accuracy_mean=cosine, centered_accuracy_mean=centered, diverged=list(diverged), folds=list(folds))

    assert choose({"a": tuned(0.90, 0.91), "b": tuned(0.905, 0.89)}, [6, 7, 8]) == ("a", "centered")
    assert choose({"a": tuned(0.90, 0.89), "b": tuned(0.905)}, [6, 7, 8]) == ("b", "cosine")  # old records: cosine only
    assert choose({"a": tuned(0.90, 0.90), "b": tuned(0.99, 0.99, diverged=[7]), "c": tuned(0.99, 0.99, folds=[6])},
                  [6, 7, 8]) == ("a", "cosine")  # diverged or unfinished candidates are never chosen; ties: cosine
    with pytest.raises(InputError, match="no candidate finished every tuning fold"):
        choose({"b": tuned(0.99, diverged=[7])}, [6, 7, 8])
    base = SCHEMA.defaults()
    settings, min_images = tuning.candidate_settings(base, {"min_images": 1, "shift": 4}, "singletons")
    assert min_images == 1 and settings["shift"] == 4 and "min_images" not in settings
    assert tuning.candidate_settings(base, {}, "base")[1] == 2
    with pytest.raises(ConfigError, match="candidate x: min_images must be a whole number"):
        tuning.candidate_settings(base, {"min_images": 0}, "x")


@pytest.mark.slow
def test_bench_lfw_tunes_then_reports_the_chosen_settings_in_their_own_folder(lfw, tmp_path, monkeypatch, capsys):
    root, pairs_path = lfw
    config = tmp_path / "tiny.toml"
    config.write_text('depth = 4\nembedding_dim = 16\nsteps = 4\ncheckpoint_every = 2\nbatch_size = 8\n'
                      'learning_rate = 0.01\nlr_boundaries = [2]\n')
    out = tmp_path / "lfw"
    argv = ["--images", root, "--pairs", pairs_path, "--out", str(out), "--config", str(config),
            "--tune-folds", "3", "--folds", "1", "--variants", "angular",
            "--candidates", '{"_note": "ignored", "base": {}, "diverges": {"learning_rate": 1e30}}']
    assert cli.run(face_benchmark.main, argv) == 0  # a diverging candidate is not chosen; the report is finite
    assert "| angular-m4 | 1 |" in capsys.readouterr().out  # the report's table
    chosen = json.load(open(out / "chosen.json"))
    assert chosen["chosen"] == "base" and chosen["tuning"]["diverges"]["diverged"] == [3]  # a NaN run is never chosen
    base = chosen["tuning"]["base"]  # the scoring of the better tuning accuracy is the one reported
    assert chosen["scoring"] == ("centered" if base["centered_accuracy_mean"] > base["accuracy_mean"] else "cosine")
    report = "base+centered" if chosen["scoring"] == "centered" else "base"  # a report per (settings, scoring)
    record = json.load(open(out / "report" / report / "angular-m4" / "fold1.json"))
    assert record["finite"] and record["settings"]["learning_rate"] == 0.01 and record["fold"] == 1
    assert not (out / "tune" / "base" / "angular-m4" / "fold1.json").exists()  # reporting folds never tuned on


def test_the_protocol_refuses_to_report_on_a_tuning_fold_before_any_training(lfw, tmp_path, capsys):
    root, pairs_path = lfw
    argv = ["--images", root, "--pairs", pairs_path, "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stop:
        face_benchmark.main([*argv, "--tune-folds", "2-3", "--folds", "1-2"])
    assert stop.value.code == 2 and "--tune-folds and --folds share fold(s) [2]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        face_benchmark.main([*argv, "--candidates", '{"a": {}}'])
    assert stop.value.code == 2 and "--candidates needs --tune-folds" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"the tuning folds \[1, 2\] and the reporting folds \[2\] share \[2\]"):
        tuning.tune_and_report(root, pairs_path, str(tmp_path / "out"), SCHEMA.defaults(), [1, 2], [2])
    assert not (tmp_path / "out").exists()
