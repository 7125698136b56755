"""Exports and model import: SavedModel and .keras round-trips in a fresh process, configs, projector."""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

from sphereface_tf import SoftmaxHead, attach_head
from sphereface_tf.face.embed import embed, embedding_backbone, load_embedding_model
from sphereface_tf.face.export import export_embedding, serving_model
from sphereface_tf.face.spherenet import spherenet
from sphereface_tf.face.synthetic import make_identity_folders
from sphereface_tf.layers import MirrorImages
from sphereface_tf.util import cli
from tests import checks

REPO = str(checks.REPO)
# float32 end to end; the fresh process runs the same kernels, so differences are rounding only
TOLERANCE = dict(rtol=1e-5, atol=1e-6)


def _fresh_python(code, *args):
    """Run `code` in a new interpreter (nothing of ours imported unless the code does it)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A SphereNet-4 training model saved as .keras, and uint8 test images."""
    keras.utils.set_random_seed(0)
    backbone = spherenet(4, embedding_dim=32)
    train, _ = attach_head(backbone, SoftmaxHead(5, name="softmax_head"))  # named: auto names depend on test order
    path = tmp_path_factory.mktemp("model") / "model.keras"
    train.save(path)
    images = np.random.default_rng(0).integers(0, 256, (4, 112, 96, 3)).astype(np.uint8)
    return backbone, path, images


@pytest.mark.core
def test_mirror_layer_flips_width_only():
    x = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(MirrorImages()(x)), x[:, :, ::-1])


@pytest.mark.core
def test_serving_model_matches_embed_and_takes_uint8(trained_like):
    backbone, _, images = trained_like
    model = serving_model(backbone)
    assert model.inputs[0].dtype == "uint8" and model.output.shape[-1] == 64
    np.testing.assert_allclose(model.predict(images, verbose=0), embed(backbone, images), **TOLERANCE)
    assert serving_model(backbone, flip=False).output.shape[-1] == 32
    assert embedding_backbone(model) is backbone
    np.testing.assert_allclose(embed(model, images), embed(backbone, images), **TOLERANCE)  # no double mirroring
    with pytest.raises(ValueError, match="one input"):
        serving_model(attach_head(backbone, SoftmaxHead(5))[0])


@pytest.mark.core
def test_serving_model_output_is_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    model = serving_model(spherenet(4, embedding_dim=16))
    out = model.predict(np.zeros((1, 112, 96, 3), np.uint8) + 128, verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_export_round_trips_in_a_fresh_process(trained_like, tmp_path):
    """SavedModel (without our code) and .keras (safe mode, after `import sphereface_tf`) give our embeddings."""
    _, model_path, images = trained_like
    expected = embed(load_embedding_model(model_path), images)
    keras_path, saved_model = export_embedding(load_embedding_model(model_path), tmp_path / "export")
    np.save(tmp_path / "images.npy", images)
    _fresh_python("""
        import sys, numpy as np, tensorflow as tf
        assert "sphereface_tf" not in sys.modules
        loaded = tf.saved_model.load(sys.argv[1])
        serve = loaded.signatures["serving_default"]
        spec = serve.structured_input_signature[1]["images"]
        assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 112, 96, 3], spec
        images = np.load(sys.argv[2])
        np.save(sys.argv[3], serve(images=tf.constant(images))["output_0"].numpy())
        np.save(sys.argv[4], loaded.serve(tf.constant(images)).numpy())
        assert "sphereface_tf" not in sys.modules
    """, saved_model, tmp_path / "images.npy", tmp_path / "signature.npy", tmp_path / "serve.npy")
    _fresh_python("""
        import sys, numpy as np, keras
        import sphereface_tf
        model = keras.models.load_model(sys.argv[1], safe_mode=True)
        np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
    """, keras_path, tmp_path / "images.npy", tmp_path / "keras.npy")
    for name in ("signature", "serve", "keras"):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected, **TOLERANCE, err_msg=name)
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_embedding(load_embedding_model(model_path), tmp_path / "export")


def test_training_model_loads_in_a_fresh_process_in_safe_mode(trained_like, tmp_path):
    backbone, model_path, images = trained_like
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", backbone.predict(images.astype(np.float32), verbose=0))
    _fresh_python("""
        import sys, numpy as np, keras
        import sphereface_tf
        from sphereface_tf.face.embed import embedding_backbone
        model = keras.models.load_model(sys.argv[1], safe_mode=True)
        head = model.get_layer("softmax_head")
        assert isinstance(head, sphereface_tf.SoftmaxHead) and head.variant == "angular" and head.m == 4
        backbone = embedding_backbone(model)
        np.testing.assert_allclose(backbone.predict(np.load(sys.argv[2]).astype("float32"), verbose=0),
                                   np.load(sys.argv[3]), rtol=1e-5, atol=1e-6)
    """, model_path, tmp_path / "images.npy", tmp_path / "expected.npy")


def test_spherenet_rebuilds_from_a_saved_config(trained_like, tmp_path):
    """The architecture alone (config.json inside the .keras zip) rebuilds SphereNet; weights then transfer."""
    backbone, model_path, images = trained_like
    with zipfile.ZipFile(model_path) as archive:
        config = json.loads(archive.read("config.json"))
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert rebuilt.count_params() == backbone.count_params() + 32 * 5 + 1  # + head kernel + λ iteration counter
    twin = keras.Model.from_config(json.loads(json.dumps(backbone.get_config())))
    assert [w.shape for w in twin.weights] == [w.shape for w in backbone.weights]
    assert len(twin.layers) == len(backbone.layers)
    twin.set_weights(backbone.get_weights())
    x = images.astype(np.float32)
    np.testing.assert_allclose(twin.predict(x, verbose=0), backbone.predict(x, verbose=0), **TOLERANCE)
    assert embedding_backbone(rebuilt).count_params() == backbone.count_params()


@pytest.mark.slow
def test_face_projector_command(trained_like, tmp_path, capsys):
    from sphereface_tf.commands import face_project

    _, model_path, _ = trained_like
    make_identity_folders(tmp_path / "faces", identities=3, per_identity=5)
    code = cli.run(face_project.main, ["--model", str(model_path), "--images", str(tmp_path / "faces"), "--out",
                                      str(tmp_path / "proj"), "--per-identity", "4"])
    assert code == 0, capsys.readouterr().err[-3000:]
    out = tmp_path / "proj"
    rows = open(out / "metadata.tsv").read().splitlines()
    assert rows[0] == "identity\timage" and len(rows) == 1 + 12
    assert [r.split("\t")[0] for r in rows[1:]] == ["id_000"] * 4 + ["id_001"] * 4 + ["id_002"] * 4
    tensors = np.loadtxt(out / "tensors.tsv", delimiter="\t")
    assert tensors.shape == (12, 64)
    np.testing.assert_allclose(np.linalg.norm(tensors, axis=1), 1.0, rtol=1e-4)
    config = open(out / "projector_config.pbtxt").read()
    assert 'sprite' in config and "single_image_dim: 48" in config and "single_image_dim: 56" in config
    from PIL import Image

    with Image.open(out / "sprite.png") as sprite:
        assert sprite.size == (4 * 48, 4 * 56)  # 12 thumbnails on a 4 × 4 grid
    # bad input (a missing folder, ...): tests/commands/test_bad_inputs.py


@pytest.mark.slow
def test_export_command(trained_like, tmp_path, capsys):
    from sphereface_tf.commands import face_export

    _, model_path, images = trained_like
    run = lambda: cli.run(face_export.main, ["--model", str(model_path), "--out", str(tmp_path / "e")])  # noqa: E731
    assert run() == 0, capsys.readouterr().err[-3000:]
    assert (tmp_path / "e" / "saved_model" / "saved_model.pb").is_file()
    exported = keras.models.load_model(tmp_path / "e" / "embedding.keras")
    np.testing.assert_allclose(exported.predict(images, verbose=0), embed(load_embedding_model(model_path), images), **TOLERANCE)
    capsys.readouterr()
    assert run() == 2 and "never overwritten" in capsys.readouterr().err
