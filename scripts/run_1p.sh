#!/usr/bin/env bash
# ModelArts / Ascend single-device PFE training.
#
#   bash scripts/run_1p.sh CODE_DIR DATA_DIR RESULT_DIR [OBS_URL] [extra main.py flags ...]
#
# DATA_DIR holds the class-balanced TFRecords (manifest.json + shards), directly or in DATA_DIR/tfrecords,
# and optionally the backbone checkpoint in DATA_DIR/pretrained. Checkpoints go to RESULT_DIR/ckpt, the log
# to RESULT_DIR/train_${ASCEND_DEVICE_ID}.log. OBS_URL is where boot_modelarts.py copies RESULT_DIR back to
# (only logged here; an argument starting with -- is never taken for it). Extra flags pass through to
# main.py, e.g. --max_steps=3000 --iterations_per_loop=100.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CODE_DIR DATA_DIR RESULT_DIR [OBS_URL] [main.py flags ...]" >&2
  exit 2
fi
code_dir=$1; data_dir=$2; result_dir=$3
shift 3
obs_url=""
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  obs_url=$1
  shift
fi

export TF_CPP_MIN_LOG_LEVEL=2
export ASCEND_SLOG_PRINT_TO_STDOUT=0
export JOB_ID=${JOB_ID:-10087}  # also when set but empty
export RANK_SIZE=1
export RANK_ID=0
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-${DEVICE_ID:-0}}

records=$data_dir
[ -f "$data_dir/tfrecords/manifest.json" ] && records=$data_dir/tfrecords
pretrained=()
[ -d "$data_dir/pretrained" ] && pretrained=(--pretrained_ckpt="$data_dir/pretrained")

mkdir -p "$result_dir"
log=$result_dir/train_${ASCEND_DEVICE_ID}.log
echo "run_1p: device $ASCEND_DEVICE_ID, JOB_ID $JOB_ID, data $records, results $result_dir ${obs_url:+-> $obs_url}" | tee "$log"
python3 "$code_dir/main.py" --mode=train --device=npu --data_dir="$records" --model_dir="$result_dir/ckpt" \
  ${pretrained[@]+"${pretrained[@]}"} "$@" 2>&1 | tee -a "$log"
