"""face/prepare.py and face/train.py on synthetic identities (CPU, tiny sizes)."""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.synthetic_faces import make_identity_folders

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def _run(args, expect=0, env=None, timeout=900):
    proc = subprocess.run([PY, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == expect, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    make_identity_folders(root / "images", identities=8, per_identity=12)
    _run(["face/prepare.py", "--images", str(root / "images"), "--out", str(root / "rec"), "--shards", "4"])
    summary = json.load(open(root / "rec" / "summary.json"))
    assert summary["images"] == 96 and summary["identities"] == 8
    return str(root / "rec")


@pytest.fixture(scope="module")
def cache(shards):
    images = os.path.join(os.path.dirname(shards), "images")
    out = os.path.join(os.path.dirname(shards), "cache")
    _run(["face/prepare.py", "--images", images, "--out", out, "--format", "cache"], env={"KERAS_BACKEND": "jax"})
    assert json.load(open(os.path.join(out, "summary.json")))["images"] == 96
    return out


@pytest.fixture
def data(request, shards, cache):
    return {"tfrecords": shards, "cache": cache}[request.param]


BACKEND_DATA = [("tensorflow", "tfrecords"), ("jax", "cache"), ("tensorflow", "cache")]


def _train_args(shards, out, *extra):
    return ["face/train.py", "--data", shards, "--out", str(out), "--depth", "4", "--batch-size", "16",
            "--learning-rate", "0.01", "--lr-boundaries", "1000", "2000", *extra]


def test_prepare_reports_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _run(["face/prepare.py", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "o")], expect=2)
    assert "no images found" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_few_steps_each_precision_no_nan_loss_decreases(shards, tmp_path, precision):
    # constant λ (base = min) so that the loss is comparable across steps
    _run(_train_args(shards, tmp_path, "--steps", "12", "--checkpoint-every", "4", "--precision", precision,
                     "--lambda-base", "5", "--lambda-min", "5"))
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 3 and np.isfinite(losses).all() and losses[-1] < losses[0], losses
    final = json.load(open(tmp_path / "final.json"))
    assert final["steps"] == 12 and final["head_iterations"] == 12
    assert json.load(open(tmp_path / "config.json"))["precision_used"] == precision
    import keras

    import sphereface_tf  # noqa: F401

    embedding = keras.models.load_model(tmp_path / "embedding.keras")
    assert embedding.output.shape[-1] == 512


def _final_weights(run_dir):
    import keras

    import sphereface_tf  # noqa: F401

    return keras.models.load_model(run_dir / "model.keras").get_weights()


@pytest.mark.parametrize("backend, data", BACKEND_DATA[:2], indirect=["data"])
def test_kill_and_resume_matches_uninterrupted_run(data, backend, tmp_path):
    # 96 images, batch 16: 6 batches an epoch, so the resumed steps 5-6 need the data stream skipped ahead
    env = {"KERAS_BACKEND": backend}
    common = ["--steps", "6", "--checkpoint-every", "2", "--lambda-gamma", "1", "--deterministic", "true"]
    _run(_train_args(data, tmp_path / "straight", *common), env=env)
    interrupted = _train_args(data, tmp_path / "killed", *common)
    _run([*interrupted, "--crash-after-steps", "5"], expect=9, env=env)  # dies after step 5, checkpoint at 4
    assert not os.path.exists(tmp_path / "killed" / "final.json")
    proc = _run(interrupted, expect=2, env=env)  # refuses to overwrite an unfinished run
    assert "pass --resume" in proc.stderr
    _run([*interrupted, "--resume"], env=env)
    straight = json.load(open(tmp_path / "straight" / "final.json"))
    resumed = json.load(open(tmp_path / "killed" / "final.json"))
    assert resumed["steps"] == straight["steps"] == 6
    assert resumed["head_iterations"] == 6 and resumed["final_lambda"] == pytest.approx(straight["final_lambda"])
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(tmp_path / "killed" / "log.csv"))]
    assert epochs == [0, 1, 2]  # no checkpoint interval lost or repeated
    assert not os.path.exists(tmp_path / "killed" / "backup")  # cleaned up once finished
    assert json.load(open(tmp_path / "killed" / "config.json"))["backend"] == backend
    # same data position, optimizer state and λ: the resumed run ends with the straight run's weights
    for ours, theirs in zip(_final_weights(tmp_path / "killed"), _final_weights(tmp_path / "straight")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend, data", BACKEND_DATA, indirect=["data"])
def test_sigterm_checkpoints_the_current_step_and_resume_ends_like_a_straight_run(data, backend, tmp_path):
    env = {"KERAS_BACKEND": backend}
    common = ["--steps", "6", "--checkpoint-every", "3", "--lambda-gamma", "1", "--deterministic", "true"]
    _run(_train_args(data, tmp_path / "straight", *common), env=env)
    args = _train_args(data, tmp_path / "stopped", *common)
    proc = _run([*args, "--interrupt-after-steps", "4"], expect=128 + 15, env=env)  # SIGTERM after step 4, mid-interval
    assert "checkpoint at step 4" in proc.stdout
    assert json.load(open(tmp_path / "stopped" / "backup" / "training_metadata.json")) == {"epoch": 1, "batch": 1}
    _run([*args, "--resume"], env=env)
    straight = json.load(open(tmp_path / "straight" / "final.json"))
    resumed = json.load(open(tmp_path / "stopped" / "final.json"))
    assert resumed["steps"] == straight["steps"] == 6  # not 4 + a whole interval of 3
    assert resumed["head_iterations"] == 6 and resumed["final_lambda"] == pytest.approx(straight["final_lambda"])
    assert not os.path.exists(tmp_path / "stopped" / "backup")
    # the data stream resumed mid-interval at step 4 (epoch 1, batch 1), not at the interval's start
    for ours, theirs in zip(_final_weights(tmp_path / "stopped"), _final_weights(tmp_path / "straight")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_two_interruptions_resume_at_the_true_step_after_a_shifted_epoch(cache, tmp_path):
    # SIGTERM after step 4 (mid-interval of 3): the resumed run restarts epoch 1, so its next checkpoint
    # is at step 7 (not 6) while its metadata says "epoch 2, batch 0"; killed at step 8, the second resume
    # must start the data at batch 7, read from the checkpoint's optimizer step.
    env = {"KERAS_BACKEND": "jax"}
    common = ["--steps", "9", "--checkpoint-every", "3", "--lambda-gamma", "1"]
    _run(_train_args(cache, tmp_path / "straight", *common), env=env)
    args = _train_args(cache, tmp_path / "twice", *common)
    _run([*args, "--interrupt-after-steps", "4"], expect=128 + 15, env=env)
    _run([*args, "--resume", "--crash-after-steps", "4"], expect=9, env=env)  # steps 5-8, checkpoint at 7
    proc = _run([*args, "--resume"], env=env)
    assert "resuming at step 7" in proc.stdout
    assert json.load(open(tmp_path / "twice" / "final.json"))["steps"] == 9
    for ours, theirs in zip(_final_weights(tmp_path / "twice"), _final_weights(tmp_path / "straight")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_jax_data_parallel_over_two_devices_matches_one_device(cache, tmp_path):
    # two XLA host devices stand in for two GPUs: keras.distribution.DataParallel splits each global batch
    common = ["--steps", "4", "--checkpoint-every", "2"]
    _run(_train_args(cache, tmp_path / "one", *common), env={"KERAS_BACKEND": "jax"})
    _run(_train_args(cache, tmp_path / "two", *common, "--distribute", "mirrored"),
         env={"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    config = json.load(open(tmp_path / "two" / "config.json"))
    assert config["replicas"] == 2 and config["distribution"] == "mirrored"
    assert json.load(open(tmp_path / "two" / "final.json"))["steps"] == 4
    for ours, theirs in zip(_final_weights(tmp_path / "two"), _final_weights(tmp_path / "one")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_jax_two_processes_on_localhost_match_one_device(cache, tmp_path):
    # multi-host JAX as documented: KERAS_DISTRIBUTION_* on each process, the same command; each feeds its half
    common = ["--steps", "4", "--checkpoint-every", "2"]
    _run(_train_args(cache, tmp_path / "one", *common), env={"KERAS_BACKEND": "jax"})
    address = f"127.0.0.1:{_free_ports(1)[0]}"
    procs = []
    for index in range(2):
        env = {**os.environ, "KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_JOB_ADDRESSES": address,
               "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": str(index)}
        procs.append(subprocess.Popen([PY, *_train_args(cache, tmp_path / f"p{index}", *common)], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    for index in range(2):
        config = json.load(open(tmp_path / f"p{index}" / "config.json"))
        assert config["distribution"] == "multiworker" and config["replicas"] == 2
        for ours, theirs in zip(_final_weights(tmp_path / f"p{index}"), _final_weights(tmp_path / "one")):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


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


def test_jax_trains_from_the_cache_without_tensorflow(cache, shards, tmp_path):
    env = {"KERAS_BACKEND": "jax"}
    proc = _run(["-c", BLOCK_TENSORFLOW, *_train_args(cache, tmp_path / "run", "--steps", "4", "--checkpoint-every", "2")],
                env=env)
    assert "TENSORFLOW_IMPORTED False" in proc.stdout
    final = json.load(open(tmp_path / "run" / "final.json"))
    assert final["steps"] == 4 and len(final["images_per_second"]) == 2
    assert os.listdir(tmp_path / "run" / "logs" / "train")  # TensorBoard scalars, written without TensorFlow
    # TFRecords need TensorFlow: a clear error, not a traceback
    proc = _run(["-c", BLOCK_TENSORFLOW, *_train_args(shards, tmp_path / "tf", "--steps", "2", "--checkpoint-every", "2")],
                expect=2, env=env)
    assert "TFRecords are read with TensorFlow, which is not installed" in proc.stderr
    assert "--format cache" in proc.stderr and "Traceback" not in proc.stderr


def test_mirrored_two_cpus_first_step_loss_equals_one_device(shards):
    code = textwrap.dedent(f"""
        import json, os
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from sphereface_tf import SoftmaxHead
        from sphereface_tf.facedata import make_dataset
        from sphereface_tf.models import attach_head
        from sphereface_tf.spherenet import spherenet
        (x, y), _ = next(iter(make_dataset({shards!r}, 16, deterministic=True, seed=0)))
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
    assert result["replicas"] == 2
    assert result["losses"][1] == pytest.approx(result["losses"][0], rel=1e-5)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_two_processes_on_localhost(shards, tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        args = _train_args(shards, tmp_path / f"w{index}", "--steps", "4", "--checkpoint-every", "2",
                           "--distribute", "multiworker")
        procs.append(subprocess.Popen([PY, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env={**os.environ, "TF_CONFIG": tf_config}))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    for index in range(2):
        final = json.load(open(tmp_path / f"w{index}" / "final.json"))
        assert final["steps"] == 4 and final["head_iterations"] == 4
        assert json.load(open(tmp_path / f"w{index}" / "config.json"))["replicas"] == 2
    # gradients are all-reduced: both workers end with the same weights and log the same global loss
    import keras

    import sphereface_tf  # noqa: F401

    weights = [keras.models.load_model(tmp_path / f"w{index}" / "model.keras").get_weights() for index in range(2)]
    assert len(weights[0]) == len(weights[1]) > 0
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    logs = [[float(r["loss"]) for r in csv.DictReader(open(tmp_path / f"w{index}" / "log.csv"))] for index in range(2)]
    assert len(logs[0]) == 2 and np.isfinite(logs[0]).all() and logs[0] == pytest.approx(logs[1], rel=1e-5)
