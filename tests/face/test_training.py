"""Face training (`sphereface_tf.face.training.train`, face/train.py) on synthetic identities: precisions, kill and
SIGTERM with resume, data parallelism on both backends, JAX without TensorFlow. CPU, SphereNet-4, tiny sizes.

Every resumed or parallel run is checked against one straight run per (backend, data format) of the same
settings — the reference runs are shared by the whole module. TensorFlow runs happen in this process where no
real process death is needed; JAX runs (and kills) are separate processes.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sphereface_tf.commands.face_train import after_steps, send_sigterm
from sphereface_tf.face.data import prepare_faces
from sphereface_tf.face.synthetic import make_identity_folders
from sphereface_tf.face.training import train
from sphereface_tf.util.errors import InputError
from tests.checks import assert_same_weights, named_weights

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable
# 96 images, batch 16: 6 batches an epoch, so steps 7-9 of a resumed run lie in the second pass over the data.
# Checkpoints every 3 steps; λ anneals fast (γ = 1) so that a wrong λ counter shows in the weights.
COMMON = dict(depth=4, embedding_dim=32, batch_size=16, learning_rate=0.01, lr_boundaries=[1000, 2000], steps=9, checkpoint_every=3,
              lambda_gamma=1.0, deterministic=True)


# split batches sum their gradients in another order: rounding differences up to a few 1e-5 after 9 steps
# (a half batch per device without the all-reduce moves weights by about 1e-3)
PARALLEL_TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def _flags(settings):
    flags = []
    for key, value in settings.items():
        flags.append("--" + key.replace("_", "-"))
        flags.extend(str(v) for v in value) if isinstance(value, list) else flags.append(
            str(value).lower() if isinstance(value, bool) else str(value))
    return flags


def _run(args, expect=0, env=None, timeout=600):
    proc = subprocess.run([PY, *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == expect, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _train_process(data, out, *extra, env=None, expect=0, **changes):
    return _run(["face/train.py", *_flags(dict(COMMON, data=data, out=str(out), **changes)), *extra], expect=expect, env=env)


def _train_here(data, out, hooks=(), resume=False, **changes):
    return train(dict(COMMON, data=data, out=str(out), **changes), resume=resume, test_hooks=list(hooks), verbose=0)


def _json(path):
    with open(path) as handle:
        return json.load(handle)


def _epochs(run):
    with open(os.path.join(run, "log.csv")) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


# ----------------------------------------------------------------- shared data and reference runs
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    make_identity_folders(root / "images", identities=8, per_identity=12)
    formats = {}
    for name, fmt in (("tfrecords", "jpeg"), ("cache", "cache")):
        summary = prepare_faces(str(root / "images"), str(root / name), format=fmt, shards=4, workers=2)
        assert summary["images"] == 96 and summary["skipped"] == 0
        formats[name] = str(root / name)
    return formats


BLOCK_TENSORFLOW = """
import runpy, sys
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, NoTensorFlow())
sys.argv = sys.argv[1:]  # face/train.py and its flags
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("TENSORFLOW_IMPORTED", "tensorflow" in sys.modules)
"""


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """One straight run of COMMON per (backend, data format), made on first use: {"run", "final", "weights", ...}."""
    runs = {}

    def get(backend, fmt):
        if (backend, fmt) not in runs:
            out = tmp_path_factory.mktemp(f"straight-{backend}-{fmt}") / "run"
            entry = {"run": out}
            if backend == "tensorflow":
                _train_here(data[fmt], out)
            else:  # JAX, in a process that cannot import TensorFlow: the reference doubles as that check
                proc = _run(["-c", BLOCK_TENSORFLOW, "face/train.py", *_flags(dict(COMMON, data=data[fmt], out=str(out)))],
                            env={"KERAS_BACKEND": "jax"})
                entry["stdout"] = proc.stdout
            entry["final"] = _json(out / "final.json")
            entry["config"] = _json(out / "config.json")
            entry["weights"] = named_weights(out / "model.keras")
            assert entry["final"]["steps"] == 9 and entry["config"]["backend"] == backend
            runs[backend, fmt] = entry
        return runs[backend, fmt]

    return get


def _same_end(run, straight):
    resumed = _json(os.path.join(run, "final.json"))
    assert resumed["steps"] == straight["final"]["steps"] == 9
    assert resumed["head_iterations"] == 9 and resumed["final_lambda"] == pytest.approx(straight["final"]["final_lambda"])
    assert not os.path.exists(os.path.join(run, "backup"))  # cleaned up once finished
    # same data position, optimizer state and λ: the resumed run ends with the straight run's weights
    assert_same_weights(os.path.join(run, "model.keras"), straight["weights"])


# ----------------------------------------------------------------- precisions
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_few_steps_each_precision_no_nan_loss_decreases(data, tmp_path, precision):
    import keras

    # constant λ (base = min) so that the loss is comparable across steps
    final = _train_here(data["tfrecords"], tmp_path, steps=12, checkpoint_every=4, precision=precision, lambda_base=5.0,
                        lambda_min=5.0, deterministic=False)
    with open(tmp_path / "log.csv") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 3 and np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert final["steps"] == 12 and final["head_iterations"] == 12 and len(final["images_per_second"]) == 3
    assert all(np.isfinite(v) and v > 0 for v in final["images_per_second"])
    keras.config.set_dtype_policy("float32")
    embedding = keras.models.load_model(tmp_path / "embedding.keras")
    assert embedding.output.shape[-1] == COMMON["embedding_dim"]
    # the precision was used, not only recorded: the saved convolutions compute in it
    convs = [layer for layer in embedding.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and {layer.dtype_policy.name for layer in convs} == {precision}


# ----------------------------------------------------------------- kill (SIGKILL-like) and resume
def test_tensorflow_kill_and_resume_matches_the_straight_run(data, reference, tmp_path):
    """The killed run is a real process (it dies with os._exit); the resumed run and the reference run here."""
    straight = reference("tensorflow", "tfrecords")
    out = tmp_path / "killed"
    _train_process(data["tfrecords"], out, expect=9, crash_after_steps=5)  # dies after step 5, checkpoint at 3
    assert not os.path.exists(out / "final.json") and os.path.isdir(out / "backup")
    with pytest.raises(InputError, match="holds an unfinished run; pass --resume"):
        _train_here(data["tfrecords"], out)
    _train_here(data["tfrecords"], out, resume=True)
    assert _epochs(out) == [0, 1, 2]  # no checkpoint interval lost or repeated
    assert _json(out / "config.json")["backend"] == "tensorflow"
    _same_end(out, straight)


def test_jax_kill_and_resume_matches_the_straight_run(data, reference, tmp_path):
    straight = reference("jax", "cache")
    out = tmp_path / "killed"
    env = {"KERAS_BACKEND": "jax"}
    _train_process(data["cache"], out, env=env, expect=9, crash_after_steps=5)
    assert not os.path.exists(out / "final.json")
    proc = _train_process(data["cache"], out, "--resume", env=env)
    assert "resuming at step 3" in proc.stdout
    assert _epochs(out) == [0, 1, 2]
    assert _json(out / "config.json")["backend"] == "jax"
    _same_end(out, straight)


# ----------------------------------------------------------------- SIGTERM and resume
@pytest.mark.parametrize("fmt", ["tfrecords", "cache"])
def test_tensorflow_sigterm_checkpoints_the_current_step_and_resume_ends_like_a_straight_run(data, reference, tmp_path,
                                                                                          capsys, fmt):
    straight = reference("tensorflow", fmt)
    out = tmp_path / "stopped"
    with pytest.raises(SystemExit) as stop:  # SIGTERM after step 4, mid-interval: checkpoint, exit 143
        _train_here(data[fmt], out, hooks=[after_steps(4, send_sigterm)])
    assert stop.value.code == 128 + 15
    assert "checkpoint at step 4" in capsys.readouterr().out
    # the data stream resumes mid-interval at step 4 (epoch 1, batch 1), not at the interval's start
    assert _json(out / "backup" / "training_metadata.json") == {"epoch": 1, "batch": 1}
    _train_here(data[fmt], out, resume=True)
    _same_end(out, straight)  # 9 steps, not 4 + a whole interval of 3


def test_jax_sigterm_then_kill_resume_at_the_true_step_after_a_shifted_epoch(data, reference, tmp_path):
    # SIGTERM after step 4 (mid-interval of 3): the resumed run restarts epoch 1, so its next checkpoint
    # is at step 7 (not 6) while its metadata says "epoch 2, batch 0"; killed at step 8, the second resume
    # must start the data at batch 7, read from the checkpoint's optimizer step.
    straight = reference("jax", "cache")
    out = tmp_path / "twice"
    env = {"KERAS_BACKEND": "jax"}
    proc = _train_process(data["cache"], out, env=env, expect=128 + 15, interrupt_after_steps=4)
    assert "checkpoint at step 4" in proc.stdout
    assert _json(out / "backup" / "training_metadata.json") == {"epoch": 1, "batch": 1}
    _train_process(data["cache"], out, "--resume", env=env, expect=9, crash_after_steps=4)  # steps 5-8, checkpoint at 7
    proc = _train_process(data["cache"], out, "--resume", env=env)
    assert "resuming at step 7" in proc.stdout
    _same_end(out, straight)


# ----------------------------------------------------------------- JAX without TensorFlow
def test_jax_trains_from_the_cache_without_tensorflow(data, reference, tmp_path):
    straight = reference("jax", "cache")  # made in a process where `import tensorflow` fails
    assert "TENSORFLOW_IMPORTED False" in straight["stdout"]
    assert straight["config"]["data_format"] == "cache" and len(straight["final"]["images_per_second"]) == 3
    assert os.listdir(straight["run"] / "logs" / "train")  # TensorBoard scalars, written without TensorFlow
    # TFRecords need TensorFlow: a clear error, not a traceback
    proc = _run(["-c", BLOCK_TENSORFLOW, "face/train.py", *_flags(dict(COMMON, data=data["tfrecords"], out=str(tmp_path / "tf")))],
                expect=2, env={"KERAS_BACKEND": "jax"})
    assert "TFRecords are read with TensorFlow, which is not installed" in proc.stderr
    assert "--format cache" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------- data parallelism
def test_jax_data_parallel_over_two_devices_matches_one_device(data, reference, tmp_path):
    # two XLA host devices stand in for two GPUs: keras.distribution.DataParallel splits each global batch
    straight = reference("jax", "cache")
    _train_process(data["cache"], tmp_path / "two", distribute="mirrored",
                   env={"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    config = _json(tmp_path / "two" / "config.json")
    assert config["replicas"] == 2 and config["distribution"] == "mirrored"
    assert _json(tmp_path / "two" / "final.json")["steps"] == 9
    assert_same_weights(tmp_path / "two" / "model.keras", straight["weights"], **PARALLEL_TOLERANCE)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _two_processes(data, out, env_of):
    procs = []
    for index in range(2):
        args = ["face/train.py", *_flags(dict(COMMON, data=data, out=str(out / f"p{index}")))]
        procs.append(subprocess.Popen([PY, *args], cwd=REPO, env={**os.environ, **env_of(index)},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (stdout, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stdout[-2000:] + stderr[-3000:]
    return [out / f"p{index}" for index in range(2)]


def test_jax_two_processes_on_localhost_match_one_device(data, reference, tmp_path):
    # multi-host JAX as documented: KERAS_DISTRIBUTION_* on each process, the same command; each feeds its half
    straight = reference("jax", "cache")
    address = f"127.0.0.1:{_free_ports(1)[0]}"
    runs = _two_processes(data["cache"], tmp_path, lambda index: {
        "KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_JOB_ADDRESSES": address, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": str(index)})
    for run in runs:
        config = _json(run / "config.json")
        assert config["distribution"] == "multiworker" and config["replicas"] == 2
        assert_same_weights(run / "model.keras", straight["weights"], **PARALLEL_TOLERANCE)


def test_tensorflow_multiworker_two_processes_on_localhost(data, tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    runs = _two_processes(data["tfrecords"], tmp_path, lambda index: {
        "KERAS_BACKEND": "tensorflow",
        "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
    for run in runs:
        final = _json(run / "final.json")
        assert final["steps"] == 9 and final["head_iterations"] == 9
        assert _json(run / "config.json")["replicas"] == 2
    # gradients are all-reduced: both workers end with the same weights and log the same global loss
    assert_same_weights(runs[0] / "model.keras", runs[1] / "model.keras", rtol=1e-5)
    logs = []
    for run in runs:
        with open(run / "log.csv") as handle:
            logs.append([float(row["loss"]) for row in csv.DictReader(handle)])
    assert len(logs[0]) == 3 and np.isfinite(logs[0]).all() and logs[0] == pytest.approx(logs[1], rel=1e-5)


def test_tensorflow_mirrored_two_cpus_first_step_loss_equals_one_device(data):
    code = textwrap.dedent(f"""
        import json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from sphereface_tf import SoftmaxHead, attach_head
        from sphereface_tf.face.data import make_dataset
        from sphereface_tf.face.spherenet import spherenet
        (x, y), _ = next(iter(make_dataset({data["tfrecords"]!r}, 16, deterministic=True, seed=0)))
        losses = []
        for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
            keras.utils.set_random_seed(0)
            with strategy.scope():
                model, _ = attach_head(spherenet(4), SoftmaxHead(8, lambda_base=5.0, lambda_min=5.0))
                model.compile(optimizer=keras.optimizers.SGD(0.01),
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            losses.append(float(model.train_on_batch((x, y), y)))
        print(json.dumps({{"replicas": strategy.num_replicas_in_sync, "losses": losses}}))
    """)
    result = json.loads(_run(["-c", code]).stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and len(result["losses"]) == 2 and np.isfinite(result["losses"]).all()
    assert result["losses"][1] == pytest.approx(result["losses"][0], rel=1e-5)


# ----------------------------------------------------------------- the family of losses and the BN backbone
@pytest.mark.parametrize("variant, scale, margin, want", [
    ("cosface", 0.0, 0.0, (64.0, 0.35)), ("arcface", 32.0, 0.4, (32.0, 0.4)), ("normface", 0.0, 0.0, (30.0, None)),
    ("sphereface_r", 0.0, 2.0, (30.0, 2.0))])
def test_the_schema_builds_each_scaled_head_with_its_scale_and_margin(variant, scale, margin, want):
    from sphereface_tf.face.training import SCHEMA, build_face_model

    settings = SCHEMA.validate(dict(SCHEMA.defaults(), depth=4, variant=variant, logit_scale=scale, margin=margin,
                                    batch_norm=True))
    _, backbone, head = build_face_model(settings, 5)
    assert (head.variant, head.scale, head.margin) == (variant, *want)
    assert backbone.name == "sfnet4_bn"


@pytest.mark.parametrize("change, words", [
    (dict(variant="angular", margin=0.3), "the angular softmax has neither (A-Softmax's margin is --m)"),
    (dict(variant="modified", logit_scale=30.0), "the modified softmax has neither"),
    (dict(variant="normface", margin=0.3), "normface has no margin"),
    (dict(variant="cosface", margin=1.0), "too wide for cosface"),
    (dict(variant="sphereface_r", margin=0.5), "multiplicative m must be >= 1"),
])
def test_scale_and_margin_belong_to_the_scaled_variants(change, words):
    from sphereface_tf.face.training import SCHEMA
    from sphereface_tf.util.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        SCHEMA.validate(dict(SCHEMA.defaults(), **change))
    assert words in str(error.value)


def test_arcface_on_the_bn_backbone_trains_a_few_steps_finite(data, tmp_path):
    final = _train_here(data["cache"], tmp_path, steps=6, checkpoint_every=3, variant="arcface", logit_scale=16.0,
                        margin=0.3, batch_norm=True, deterministic=False)
    config = _json(tmp_path / "config.json")
    assert final["steps"] == 6 and config["variant"] == "arcface" and config["batch_norm"] is True and config["margin"] == 0.3
    with open(tmp_path / "log.csv") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 2 and np.isfinite(losses).all()
