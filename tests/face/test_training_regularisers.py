"""face/train.py's regularisers for small training sets.

`shift`: the train model moves the faces (a RandomShift layer), the embedding model does not.
`dropout`: a Dropout layer before FC1, in the backbone, active in training only.
"""

import os

import keras
import pytest

from sphereface_tf.face.data import scan_identity_folders, write_cache
from sphereface_tf.face.synthetic import make_identity_folders
from sphereface_tf.face.training import SCHEMA, build_face_model, train

pytestmark = pytest.mark.slow


def test_shift_puts_a_random_shift_in_the_train_model_only(tmp_path):
    make_identity_folders(tmp_path / "img", identities=3, per_identity=4, formats=("jpg",))
    write_cache(scan_identity_folders(str(tmp_path / "img")), str(tmp_path / "cache"), workers=1, progress=False)
    out = str(tmp_path / "run")
    state = train(dict(data=str(tmp_path / "cache"), out=out, depth=4, embedding_dim=8, batch_size=4, steps=2,
                       checkpoint_every=2, shift=4), verbose=0)
    assert state["steps"] == 2
    model = keras.models.load_model(os.path.join(out, "model.keras"))
    assert model.get_layer("random_shift").get_config()["pixels"] == 4
    embedding = keras.models.load_model(os.path.join(out, "embedding.keras"))
    assert not [layer for layer in embedding.layers if "shift" in layer.name]


def test_dropout_setting_puts_dropout_before_fc1():
    settings = SCHEMA.validate(dict(SCHEMA.defaults(), depth=4, embedding_dim=8, dropout=0.3))
    _, backbone, _ = build_face_model(settings, classes=5)
    names = [layer.name for layer in backbone.layers]
    assert names[-3:] == ["flatten", "dropout", "fc1"] and backbone.get_layer("dropout").rate == 0.3
    _, backbone, _ = build_face_model(dict(settings, dropout=0.0), classes=5)
    assert "dropout" not in [layer.name for layer in backbone.layers]
    with pytest.raises(Exception, match="dropout"):
        SCHEMA.validate(dict(SCHEMA.defaults(), dropout=1.0))
