#!/usr/bin/env bash
# Ascend 8-device PFE training: one process per device, gradients averaged by NPUDistributedOptimizer.
#
#   RANK_TABLE_FILE=/path/hccl_8p.json bash scripts/run_8p.sh CODE_DIR DATA_DIR RESULT_DIR [main.py flags ...]
#
# Each rank draws its own P x K batches (seed + RANK_ID), so the global batch is 8 x --batch_size; rank 0
# writes the checkpoints to RESULT_DIR/ckpt, the other ranks to RESULT_DIR/ckpt_rank_N (unused copies).
# Logs: RESULT_DIR/train_N.log. RANK_SIZE may be set lower for a partial machine.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: RANK_TABLE_FILE=... $0 CODE_DIR DATA_DIR RESULT_DIR [main.py flags ...]" >&2
  exit 2
fi
code_dir=$1; data_dir=$2; result_dir=$3
shift 3
: "${RANK_TABLE_FILE:?set RANK_TABLE_FILE to the HCCL rank table JSON}"
export RANK_TABLE_FILE
export RANK_SIZE=${RANK_SIZE:-8}
export JOB_ID=${JOB_ID:-10087}  # also when set but empty
export TF_CPP_MIN_LOG_LEVEL=2
export ASCEND_SLOG_PRINT_TO_STDOUT=0

records=$data_dir
[ -f "$data_dir/tfrecords/manifest.json" ] && records=$data_dir/tfrecords
pretrained=()
[ -d "$data_dir/pretrained" ] && pretrained=(--pretrained_ckpt="$data_dir/pretrained")
mkdir -p "$result_dir"

pids=()
for ((rank = 0; rank < RANK_SIZE; rank++)); do
  model_dir=$result_dir/ckpt
  [ "$rank" -gt 0 ] && model_dir=$result_dir/ckpt_rank_$rank
  RANK_ID=$rank ASCEND_DEVICE_ID=$rank python3 "$code_dir/main.py" --mode=train --device=npu \
    --data_dir="$records" --model_dir="$model_dir" ${pretrained[@]+"${pretrained[@]}"} "$@" > "$result_dir/train_$rank.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in ${pids[@]+"${pids[@]}"}; do
  wait "$pid" || status=1
done
echo "run_8p: $RANK_SIZE ranks finished with status $status; logs in $result_dir/train_*.log"
exit $status
