"""Launch scripts end to end on this CPU: ModelZoo performance/full, run_1p.sh and boot_modelarts.py
through the npu_bridge and moxing test doubles, MirroredStrategy on two logical CPUs, two workers on
loopback."""
import glob
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from tests.conftest import NPU_DOUBLE, ROOT, TINY, lfw_subset_records

TINY_MODEL_FLAGS = ["--backbone=%s" % TINY["backbone"], "--image_size=%d,%d" % TINY["image_size"],
                    "--embedding_size=%d" % TINY["embedding_size"], "--num_classes_per_batch=%d" % TINY["num_classes"],
                    "--lr_values=0.01", "--lr_boundaries=", "--log_every_n_steps=1", "--random_seed=1"]
TINY_BATCH = TINY["num_classes"] * TINY["images_per_class"]


def run(command, env=None, timeout=600):
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout)


def parse_summary(path):
    with open(path) as f:
        return dict(line.strip().split(" = ", 1) for line in f if " = " in line)


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(ROOT, "scripts", "*.sh"))))
def test_shell_scripts_parse(script):
    assert run(["bash", "-n", script]).returncode == 0


def test_performance_script_on_cpu(tmp_path):
    result = run(["bash", "scripts/train_performance_1p.sh", "--device=cpu", "--batch_size=%d" % TINY_BATCH,
                  "--max_steps=6", "--save_checkpoints_steps=6"] + TINY_MODEL_FLAGS,
                 env={"OUTPUT_DIR": str(tmp_path / "output"), "ASCEND_DEVICE_ID": "0"})
    assert result.returncode == 0, result.stdout[-3000:]
    fps = float(re.search(r"^Final Performance images/sec : ([0-9.]+)$", result.stdout, re.M).group(1))
    step_time = float(re.search(r"^Final Performance TrainingTime : ([0-9.]+) \(seconds per step\)$", result.stdout,
                                re.M).group(1))
    assert fps > 0 and step_time == pytest.approx(TINY_BATCH / fps, rel=1e-3)
    assert re.search(r"^E2E Training Duration sec : \d+$", result.stdout, re.M)
    case = "PFE_SphereNet_ID0000_bs%d_1p_perf" % TINY_BATCH
    summary = parse_summary(str(tmp_path / "output" / "0" / (case + ".log")))
    assert summary["CaseName"] == case and summary["RankSize"] == "1" and summary["DeviceType"] == "cpu"
    assert float(summary["ActualFPS"]) == fps and float(summary["ActualLoss"]) == float(summary["ActualLoss"])
    assert int(summary["E2ETrainingTime"]) >= 0
    assert os.path.exists(str(tmp_path / "output" / "0" / "train_0.log"))


def test_full_script_trains_and_evaluates_on_cpu(tmp_path):
    records, pairs, _ = lfw_subset_records(tmp_path)
    result = run(["bash", "scripts/train_full_1p.sh", "--device=cpu", "--data_path=" + records,
                  "--batch_size=12", "--max_steps=2", "--lfw_path=" + records, "--lfw_pairs=" + pairs,
                  "--backbone=sphere4", "--num_classes_per_batch=4", "--lr_values=0.01", "--lr_boundaries=",
                  "--log_every_n_steps=1"],
                 env={"OUTPUT_DIR": str(tmp_path / "output"), "ASCEND_DEVICE_ID": "3"})
    assert result.returncode == 0, result.stdout[-3000:]
    accuracy = float(re.search(r"^Final Train Accuracy \(LFW, MLS\) : ([0-9.]+)$", result.stdout, re.M).group(1))
    summary = parse_summary(str(tmp_path / "output" / "3" / "PFE_SphereNet_ID0000_bs12_1p_acc.log"))
    assert float(summary["TrainAccuracy"]) == accuracy and 0.0 <= accuracy <= 1.0
    report = json.load(open(str(tmp_path / "output" / "3" / "report" / "report.json")))
    assert report["lfw"]["pairs"] == 20


def test_run_1p_takes_the_npu_path_through_the_double(tmp_path):
    record = str(tmp_path / "npu_calls.jsonl")
    data_dir, result_dir = tmp_path / "data", str(tmp_path / "result")
    data_dir.mkdir()
    result = run(["bash", "scripts/run_1p.sh", ROOT, str(data_dir), result_dir, "obs://bucket/out",
                  "--data=synthetic", "--batch_size=%d" % TINY_BATCH, "--max_steps=2"] + TINY_MODEL_FLAGS,
                 env={"PYTHONPATH": NPU_DOUBLE, "NPU_DOUBLE_RECORD": record, "JOB_ID": ""})
    assert result.returncode == 0, result.stdout[-3000:]
    calls = [json.loads(line) for line in open(record)]
    by_name = {c["name"]: c["arguments"] for c in calls}
    assert by_name["NPURunConfig"]["precision_mode"] == "allow_mix_precision"
    assert by_name["NPUEstimator"]["rank_size"] == "1"
    assert "NPULossScaleOptimizer" in by_name and "NPUDistributedOptimizer" in by_name
    assert glob.glob(os.path.join(result_dir, "ckpt", "model.ckpt-2.index"))
    log = open(os.path.join(result_dir, "train_0.log")).read()
    assert "device 0, JOB_ID" in log and "obs://bucket/out" in log


def test_boot_modelarts_copies_in_trains_and_copies_back(tmp_path):
    data_url, train_url = tmp_path / "obs_data", str(tmp_path / "obs_output")
    data_url.mkdir()
    command = [sys.executable, "scripts/boot_modelarts.py", "--data_url=" + str(data_url), "--train_url=" + train_url,
               "--cache_dir=" + str(tmp_path / "cache"), "--", "--data=synthetic",
               "--batch_size=%d" % TINY_BATCH, "--max_steps=2"] + TINY_MODEL_FLAGS
    missing = run(command)
    assert missing.returncode != 0 and "moxing is not installed" in missing.stdout
    result = run(command, env={"PYTHONPATH": NPU_DOUBLE})
    assert result.returncode == 0, result.stdout[-3000:]
    assert glob.glob(os.path.join(train_url, "ckpt", "model.ckpt-2.index"))
    assert os.path.exists(os.path.join(train_url, "train_0.log"))


def _step_losses(output):
    return {int(step): float(loss) for step, loss in re.findall(r"step (\d+): loss = ([-0-9.]+)", output)}


def test_mirrored_strategy_on_two_cpus_follows_the_one_device_trajectory(tmp_path):
    """Each replica gets the same synthetic P x K batch, so the averaged gradient equals one device's."""
    losses = {}
    for devices in (1, 2):
        result = run([sys.executable, "main.py", "--mode=train", "--device=cpu", "--data=synthetic",
                      "--batch_size=%d" % TINY_BATCH, "--max_steps=5", "--num_devices=%d" % devices,
                      "--model_dir=" + str(tmp_path / ("m%d" % devices))] + TINY_MODEL_FLAGS)
        assert result.returncode == 0, result.stdout[-3000:]
        losses[devices] = _step_losses(result.stdout)
    assert sorted(losses[2]) == sorted(losses[1]) and len(losses[1]) >= 3
    for step, loss in losses[1].items():
        assert losses[2][step] == pytest.approx(loss, rel=1e-3, abs=1e-2)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_loopback_train_a_few_steps(tmp_path):
    workers = ["127.0.0.1:%d" % _free_port(), "127.0.0.1:%d" % _free_port()]
    model_dir = str(tmp_path / "model")
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        environment = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(subprocess.Popen(
            [sys.executable, "main.py", "--mode=train", "--device=cpu", "--data=synthetic",
             "--batch_size=%d" % TINY_BATCH, "--max_steps=3", "--model_dir=" + model_dir] + TINY_MODEL_FLAGS,
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True))
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=240)[0])
        finally:
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
        assert "MultiWorkerMirroredStrategy" in output or "CollectiveAllReduce" in output
        assert _step_losses(output)
    assert glob.glob(os.path.join(model_dir, "model.ckpt-3.index"))


def test_run_8p_starts_one_npu_process_per_rank_through_the_double(tmp_path):
    record = str(tmp_path / "npu_calls.jsonl")
    data_dir, result_dir = tmp_path / "data", str(tmp_path / "result")
    data_dir.mkdir()
    result = run(["bash", "scripts/run_8p.sh", ROOT, str(data_dir), result_dir, "--data=synthetic",
                  "--batch_size=%d" % TINY_BATCH, "--max_steps=2"] + TINY_MODEL_FLAGS,
                 env={"PYTHONPATH": NPU_DOUBLE, "NPU_DOUBLE_RECORD": record, "RANK_SIZE": "2",
                      "RANK_TABLE_FILE": str(tmp_path / "hccl_2p.json")})
    assert result.returncode == 0, result.stdout[-3000:]
    calls = [json.loads(line) for line in open(record)]
    assert [c["arguments"]["rank_size"] for c in calls if c["name"] == "NPUEstimator"] == ["2", "2"]
    assert all(c["arguments"]["is_distributed"] for c in calls if c["name"] == "NPULossScaleOptimizer")
    assert glob.glob(os.path.join(result_dir, "ckpt", "model.ckpt-2.index"))
    assert glob.glob(os.path.join(result_dir, "ckpt_rank_1", "model.ckpt-2.index"))
