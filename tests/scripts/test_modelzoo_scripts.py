"""Launch scripts end to end on this CPU: ModelZoo performance/full, run_1p.sh and boot_modelarts.py
through the npu_bridge and moxing test doubles, MirroredStrategy on two logical CPUs, two workers on
loopback."""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import NPU_DOUBLE, ROOT, TINY, lfw_subset_records

TINY_MODEL_FLAGS = ["--backbone=%s" % TINY["backbone"], "--image_size=%d,%d" % TINY["image_size"],
                    "--embedding_size=%d" % TINY["embedding_size"], "--num_classes_per_batch=%d" % TINY["num_classes"],
                    "--learning_rates=0.01", "--learning_rate_boundaries=", "--log_every_n_steps=1", "--random_seed=1"]
TINY_BATCH = TINY["num_classes"] * TINY["images_per_class"]


def run(command, env=None, timeout=600):
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout)


def parse_summary(path):
    with open(path) as f:
        return dict(line.strip().split(" = ", 1) for line in f if " = " in line)


SHELL_SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "scripts", "*.sh")) + glob.glob(os.path.join(ROOT, "test", "*.sh")))
NETWORK = "pfe_ID0982_for_TensorFlow"


@pytest.mark.parametrize("script", SHELL_SCRIPTS)
def test_shell_scripts_parse_and_guard_empty_arrays_for_bash_4_2(script):
    """bash -n, and every "${a[@]}" written ${a[@]+"${a[@]}"}: under set -u, bash before 4.4 calls an
    empty array unbound (no such bash can be installed here, so the rule is checked on the text)."""
    assert run(["bash", "-n", script]).returncode == 0
    text = open(script).read()
    for match in re.finditer(r'"\$\{(\w+)\[@\]\}"', text):
        guard = "${%s[@]+" % match.group(1)
        assert text[:match.start()].endswith(guard), "%s: unguarded %s" % (script, match.group(0))


def modelzoo(script, args, tmp_path, env=None):
    """Runs test/SCRIPT from a copy of the test folder's place: cwd = ROOT/test, as ModelZoo does, with the
    output under tmp_path (the scripts write ${cur_path}/output, so cur_path is a scratch copy)."""
    workdir = tmp_path / "test"
    workdir.mkdir(exist_ok=True)
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run(["bash", os.path.join(ROOT, "test", script)] + args, cwd=str(workdir), env=environment,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)


def check_closing_lines(output, summary, batch_size, rank_size=1):
    """The ModelZoo contract: closing lines, and the summary's keys with TrainingTime in ms per step."""
    fps = float(re.search(r"^Final Performance images/sec : ([0-9.]+)$", output, re.M).group(1))
    step_ms = float(re.search(r"^Final Performance TrainingTime : ([0-9.]+)$", output, re.M).group(1))
    # TrainingTime is printed with 2 decimals, as ModelZoo's scripts do
    assert fps > 0 and step_ms == pytest.approx(batch_size * rank_size * 1000.0 / fps, rel=1e-2, abs=0.006)
    assert re.search(r"^E2E Training Duration sec : \d+$", output, re.M)
    assert float(summary["ActualFPS"]) == fps and float(summary["TrainingTime"]) == step_ms
    assert summary["Network"] == NETWORK and summary["RankSize"] == str(rank_size)
    assert summary["BatchSize"] == str(batch_size) and summary["DeviceType"] == os.uname().machine
    assert int(summary["E2ETrainingTime"]) >= 0


def test_performance_script_keeps_the_modelzoo_contract_and_reruns(tmp_path):
    args = ["--device=cpu", "--batch_size=%d" % TINY_BATCH, "--max_steps=3", "--save_checkpoints_steps=3"] + \
        TINY_MODEL_FLAGS[:-2] + ["--log_every_n_steps=100"]  # fewer steps than the log interval
    case = "%s_bs%d_1p_perf" % (NETWORK, TINY_BATCH)
    output = tmp_path / "test" / "output" / "5"
    for attempt in range(2):  # a rerun starts afresh: output removed, not resumed at max_steps
        result = modelzoo("train_performance_1p.sh", args, tmp_path, env={"ASCEND_DEVICE_ID": "5"})
        assert result.returncode == 0, result.stdout[-3000:]
        summary = parse_summary(str(output / (case + ".log")))
        check_closing_lines(result.stdout, summary, TINY_BATCH)
        losses = open(str(output / ("train_%s_loss.txt" % case))).read().split()
        train_log = open(str(output / "train_5.log")).read()
        # every logged loss, in order, as the number the training printed; ActualLoss the last
        assert losses == re.findall(r"step \d+: loss = (-?[0-9.]+)$", train_log, re.M) and len(losses) >= 1
        assert [float(loss) for loss in losses] and summary["ActualLoss"] == losses[-1]
        assert "resuming from" not in train_log
    device_id = modelzoo("train_performance_1p.sh", args, tmp_path, env={"ASCEND_DEVICE_ID": "", "DEVICE_ID": "6"})
    assert device_id.returncode == 0 and (tmp_path / "test" / "output" / "6" / (case + ".log")).exists()


def test_full_script_trains_evaluates_and_reports_percent(tmp_path):
    records, pairs, _ = lfw_subset_records(tmp_path)
    root = tmp_path / "data"
    root.mkdir()
    os.symlink(records, str(root / "tfrecords"))
    os.symlink(records, str(root / "lfw"))
    shutil.copy(pairs, str(root / "lfw" / "pairs.txt"))
    pretrained = run([sys.executable, "main.py", "--mode=train", "--data=synthetic",
                      "--model_dir=" + str(root / "pretrained"),
                      "--max_steps=1", "--backbone=sphere4", "--learning_rates=0.01", "--learning_rate_boundaries="])
    assert pretrained.returncode == 0, pretrained.stdout[-2000:]
    missing = modelzoo("train_full_1p.sh", ["--device=cpu", "--data_path=" + str(tmp_path / "nothing")], tmp_path)
    assert missing.returncode != 0 and "[Error] no training TFRecords" in missing.stdout
    result = modelzoo("train_full_1p.sh", [
        "--device=cpu", "--data_path=" + str(root), "--batch_size=12", "--max_steps=2", "--backbone=sphere4",
        "--num_classes_per_batch=4", "--learning_rates=0.01", "--learning_rate_boundaries=", "--log_every_n_steps=1"],
        tmp_path, env={"ASCEND_DEVICE_ID": "3"})
    assert result.returncode == 0, result.stdout[-3000:]
    accuracy = float(re.search(r"^Final Train Accuracy : ([0-9.]+)$", result.stdout, re.M).group(1))
    output = tmp_path / "test" / "output" / "3"
    summary = parse_summary(str(output / ("%s_bs12_1p_acc.log" % NETWORK)))
    check_closing_lines(result.stdout, summary, 12)
    report = json.load(open(str(output / "report" / "report.json")))
    assert report["lfw"]["pairs"] == 20
    assert float(summary["TrainAccuracy"]) == accuracy == round(100 * report["lfw"]["mls"]["accuracy_mean"], 2)
    train_log = open(str(output / "train_3.log")).read()
    assert "initialised from %s" % (root / "pretrained") in train_log  # --data_path's pretrained/ was used


def test_performance_script_on_the_npu_path_with_dump_and_profiling(tmp_path):
    record = str(tmp_path / "npu_calls.jsonl")
    result = modelzoo("train_performance_1p.sh", [
        "--batch_size=%d" % TINY_BATCH, "--max_steps=200", "--save_checkpoints_steps=200", "--over_dump=True",
        "--data_dump_flag=True", "--data_dump_step=0|5", "--profiling=True"] + TINY_MODEL_FLAGS, tmp_path,
        env={"PYTHONPATH": NPU_DOUBLE, "NPU_DOUBLE_RECORD": record, "ASCEND_DEVICE_ID": "0"})
    assert result.returncode == 0, result.stdout[-3000:]
    config = [c["arguments"] for c in map(json.loads, open(record)) if c["name"] == "NPURunConfig"][0]
    assert config["iterations_per_loop"] == 100  # ModelZoo's performance setting
    output = str(tmp_path / "test" / "output")
    assert config["dump_config"] == {"_enable_dump": True, "_dump_path": output + "/data_dump", "_dump_step": "0|5",
                                     "_dump_mode": "all", "_enable_dump_debug": True, "_dump_debug_mode": "all"}
    assert config["profiling_config"]["_enable_profiling"]
    assert json.loads(config["profiling_config"]["_profiling_options"])["output"] == output + "/profiling"
    check_closing_lines(result.stdout, parse_summary(
        os.path.join(output, "0", "%s_bs%d_1p_perf.log" % (NETWORK, TINY_BATCH))), TINY_BATCH)


def test_performance_8p_script_runs_one_process_per_rank(tmp_path):
    record = str(tmp_path / "npu_calls.jsonl")
    args = ["--batch_size=%d" % TINY_BATCH, "--max_steps=100", "--save_checkpoints_steps=100"] + TINY_MODEL_FLAGS
    missing = modelzoo("train_performance_8p.sh", args, tmp_path, env={"RANK_SIZE": "2"})
    assert missing.returncode != 0 and "[Error] set RANK_TABLE_FILE" in missing.stdout
    result = modelzoo("train_performance_8p.sh", args, tmp_path, env={
        "PYTHONPATH": NPU_DOUBLE, "NPU_DOUBLE_RECORD": record, "RANK_SIZE": "2",
        "RANK_TABLE_FILE": str(tmp_path / "hccl_2p.json")})
    assert result.returncode == 0, result.stdout[-3000:]
    calls = [json.loads(line) for line in open(record)]
    assert sorted(c["arguments"]["device_id"] for c in calls if c["name"] == "NPUEstimator") == ["0", "1"]
    summary = parse_summary(str(tmp_path / "test" / "output" / "0" / ("%s_bs%d_2p_perf.log" % (NETWORK, TINY_BATCH))))
    check_closing_lines(result.stdout, summary, TINY_BATCH, rank_size=2)


def test_run_1p_takes_the_npu_path_through_the_double(tmp_path):
    record = str(tmp_path / "npu_calls.jsonl")
    data_dir, result_dir = tmp_path / "data", str(tmp_path / "result")
    data_dir.mkdir()
    result = run(["bash", "scripts/run_1p.sh", ROOT, str(data_dir), result_dir, "obs://bucket/out",
                  "--data=synthetic", "--batch_size=%d" % TINY_BATCH, "--max_steps=2"] + TINY_MODEL_FLAGS,
                 env={"PYTHONPATH": NPU_DOUBLE, "NPU_DOUBLE_RECORD": record, "JOB_ID": "", "DEVICE_ID": "4",
                      "ASCEND_DEVICE_ID": ""})
    assert result.returncode == 0, result.stdout[-3000:]
    calls = [json.loads(line) for line in open(record)]
    by_name = {c["name"]: c["arguments"] for c in calls}
    assert by_name["NPURunConfig"]["precision_mode"] == "allow_mix_precision"
    assert by_name["NPUEstimator"]["rank_size"] == "1"
    assert "NPULossScaleOptimizer" in by_name and "NPUDistributedOptimizer" in by_name
    assert glob.glob(os.path.join(result_dir, "ckpt", "model.ckpt-2.index"))
    log = open(os.path.join(result_dir, "train_4.log")).read()
    assert "device 4, JOB_ID 10087" in log and "obs://bucket/out" in log
    # starting at a loss scale of 2**32, the first steps overflow and are skipped, yet max_steps is reached
    assert re.search(r"throughput: [0-9.]+ images/s over (\d+) steps \(\d+ applied\)", log)
    assert int(re.search(r"over (\d+) steps", log).group(1)) > 10
    no_obs = run(["bash", "scripts/run_1p.sh", ROOT, str(data_dir), str(tmp_path / "r2"), "--data=synthetic",
                  "--batch_size=%d" % TINY_BATCH, "--max_steps=1"] + TINY_MODEL_FLAGS, env={"PYTHONPATH": NPU_DOUBLE})
    assert no_obs.returncode == 0, no_obs.stdout[-2000:]  # the first flag is not taken for an OBS URL
    assert glob.glob(str(tmp_path / "r2" / "ckpt" / "model.ckpt-1.index"))


def test_boot_modelarts_copies_in_trains_and_copies_back(tmp_path):
    data_url, train_url = tmp_path / "obs_data", str(tmp_path / "obs_output")
    data_url.mkdir()
    command = [sys.executable, "scripts/boot_modelarts.py", "--data_url=" + str(data_url), "--train_url=" + train_url,
               "--cache_dir=" + str(tmp_path / "cache"), "--num_gpus=1", "--", "--data=synthetic",
               "--batch_size=%d" % TINY_BATCH, "--max_steps=2"] + TINY_MODEL_FLAGS
    missing = run(command)
    assert missing.returncode != 0 and "moxing is not installed" in missing.stdout
    result = run(command, env={"PYTHONPATH": NPU_DOUBLE})
    assert result.returncode == 0, result.stdout[-3000:]
    assert glob.glob(os.path.join(train_url, "ckpt", "model.ckpt-2.index"))
    assert os.path.exists(os.path.join(train_url, "train_0.log"))
    assert "ignoring platform arguments --num_gpus=1" in result.stdout


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
             "--batch_size=%d" % TINY_BATCH, "--max_steps=3", "--model_dir=" + model_dir,
             "--verbose"] + TINY_MODEL_FLAGS,
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
