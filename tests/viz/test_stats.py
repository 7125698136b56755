"""Angle statistics on a known answer."""

import json

import numpy as np
import pytest

from sphereface_tf.viz.stats import angle_statistics


def test_angle_statistics_known_answer():
    deg = np.radians
    angles = np.array([0.0, 10.0, 90.0, 100.0])
    features = np.stack([np.cos(deg(angles)), np.sin(deg(angles))], 1) * [[1], [3], [2], [5]]
    stats = angle_statistics(features, np.array([0, 0, 1, 1]))
    overall = stats["overall"]
    assert overall["max_intra"] == pytest.approx(10.0)
    assert overall["min_inter"] == pytest.approx(80.0)
    assert overall["mean_inter"] == pytest.approx(90.0)
    assert overall["separated"] and overall["classes_separated"] == 2
    assert sum(stats["histogram"]["intra"]) == 2 and sum(stats["histogram"]["inter"]) == 4
    json.dumps(stats)
    # overlap: move one feature of class 1 next to class 0
    features[3] = [1.0, 0.01]
    stats = angle_statistics(features, np.array([0, 0, 1, 1]))
    assert not stats["overall"]["separated"]
