"""The frozen backbone's runner on real faces: SFace in bf16 compiled with XLA gives a face the same outputs in
any batch, stays within bf16's distance of fp32 as the op-by-op graph does, and its outputs are keyed apart from
the op-by-op graph's (a cache of the one is never taken for the other); on the terminal, no XLA log line."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.experiments import lfw_data
from pfe_estimator.faces import network_input
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import outputs
from tests.conftest import ROOT, lfw_subset_records, shared_path

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """112x112 records of ../shared's 100 native LFW faces (10 people)."""
    return lfw_subset_records(tmp_path_factory.mktemp("records"), "112x112")[0]


def sface(precision):
    options = {"precision": precision} if precision != "fp32" else None
    return backbones.Backbone(backbones.ONNX_PREFIX + shared_path(*SFACE), 128, options)


def test_sface_in_bf16_is_compiled_with_xla_and_fp32_and_spherenet_run_op_by_op():
    assert backbone_runtimes.uses_xla(sface("bf16"))  # TensorFlow 2.15's wheel is built with XLA
    assert not backbone_runtimes.uses_xla(sface("fp32"))
    assert not backbone_runtimes.uses_xla(backbones.Backbone("spherenet20", 512, {"precision": "bf16"}))
    version = tf.version.VERSION  # kernels, oneDNN's and XLA's code of another version: other last bits
    assert backbone_runtimes.runtime_key(sface("bf16")) == {"tensorflow": version, "xla_batch": 128}
    assert backbone_runtimes.XLA_BATCH == 128
    assert backbone_runtimes.runtime_key(sface("fp32")) == {"tensorflow": version}


def executed_ops(runner, batch):
    """The op types one traced run of the runner's session executed (XLA's show as _XlaCompile, _XlaRun)."""
    metadata = tf.RunMetadata()
    runner.session.run(runner.mu, {runner.images: batch}, run_metadata=metadata,
                       options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))
    return {node.timeline_label.split("(")[0].split("=")[-1].strip()
            for device in metadata.step_stats.dev_stats for node in device.node_stats}


def test_a_face_gets_the_same_outputs_in_any_batch_within_bf16_of_fp32_as_the_op_by_op_graph(records):
    faces = np.stack([network_input.decode_network_input(jpeg, (112, 112))
                      for jpeg in predict.read_tfrecord_faces(records)[1]])
    with backbone_runtimes.runner(sface("bf16"), (112, 112)) as runner:
        assert "_XlaRun" in executed_ops(runner, faces[:1].repeat(backbone_runtimes.XLA_BATCH, axis=0))  # compiled
        compiled = runner.run(faces, 64, with_norms=True)
        order = np.random.RandomState(0).permutation(len(faces))
        shuffled = runner.run(faces[order], 7, with_norms=True)  # other companions, other batch sizes, padding
    for value, other in zip(compiled, shuffled):
        np.testing.assert_array_equal(value[order], other)  # bit for bit: one compiled shape, any batch
    with backbone_runtimes.runner(sface("fp32"), (112, 112)) as runner:
        reference = runner.run(faces, 64, with_norms=True)
    with backbone_runtimes.TensorflowRunner(sface("bf16"), (112, 112), xla=False) as runner:
        assert "_XlaRun" not in executed_ops(runner, faces[:2])
        op_by_op = runner.run(faces, 64, with_norms=True)
    # the features (fp32 after the last bf16 convolution) move by ~1e-7; mu by bf16 rounding of those moves
    np.testing.assert_allclose(compiled[0], op_by_op[0], atol=1e-5)
    assert np.min(np.sum(compiled[1] * op_by_op[1], axis=1)) > 0.9999
    closest = [np.min(np.sum(mu * reference[1], axis=1)) for mu in (compiled[1], op_by_op[1])]
    assert min(closest) > precision_check.GUARD_COSINE and abs(closest[0] - closest[1]) < 1e-4, closest


def test_a_cache_made_op_by_op_is_never_taken_for_one_compiled_with_xla(records, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    with monkeypatch.context() as patched:
        patched.setattr(backbone_runtimes, "uses_xla", lambda backbone: False)
        made = cache_builder.build_cache(records, cache, sface("bf16"), progress=False)
        assert "xla_batch" not in made["fingerprint"]
    with pytest.raises(outputs.OutputError):  # the same folder, other bits: refused, not resumed
        cache_builder.build_cache(records, cache, sface("bf16"), progress=False)
    compiled = cache_builder.build_cache(records, str(tmp_path / "compiled"), sface("bf16"), progress=False)
    with monkeypatch.context() as patched:  # another TensorFlow: its outputs never resume this cache
        patched.setattr(tf.version, "VERSION", "2.16.1")
        with pytest.raises(outputs.OutputError, match="tensorflow"):
            cache_builder.build_cache(records, str(tmp_path / "compiled"), sface("bf16"), progress=False)
    assert compiled["fingerprint"]["xla_batch"] == backbone_runtimes.XLA_BATCH
    path = shared_path(*SFACE)
    keys = [lfw_data.Sface(path, "sha", precision, "", 512).key() for precision in ("fp32", "bf16")]
    version = tf.version.VERSION
    assert keys == [{"sha256": "sha", "precision": "fp32", "tensorflow": version},
                    {"sha256": "sha", "precision": "bf16", "tensorflow": version, "xla_batch": 128}]
    assert compiled["fingerprint"]["tensorflow"] == made["fingerprint"]["tensorflow"] == version


def test_cache_features_in_bf16_prints_no_tensorflow_or_xla_log_line(records, tmp_path):
    cache = str(tmp_path / "cache")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=cache_features",
                             "--backbone=onnx:" + shared_path(*SFACE), "--image_size=112,112", "--embedding_size=128",
                             "--backbone_precision=bf16", "--data_dir=" + records, "--cache_dir=" + cache],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=600, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.returncode == 0, result.stdout[-3000:]
    with open(os.path.join(cache, "manifest.json")) as f:
        assert json.load(f)["fingerprint"]["xla_batch"] == backbone_runtimes.XLA_BATCH
    lines = [line for line in result.stdout.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1].endswith("; the backbone compiled with XLA)"), lines[-1]
    framework = re.compile(r"^[IWEF]\d{4} |Compiled cluster|absl|stream_executor|^WARNING")
    assert not [line for line in lines if framework.search(line)], lines
