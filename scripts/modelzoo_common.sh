#!/usr/bin/env bash
# Shared by train_full_1p.sh and train_performance_1p.sh (sourced, not run): ModelZoo argument parsing,
# environment, log layout and the closing performance lines and summary file.
#
# Flags: --data_path= (TFRecords; empty = synthetic data) --ckpt_path= (backbone checkpoint)
#        --precision_mode= (NPU mode; on gpu, a mixed mode selects --precision=mixed) --device=npu|gpu|cpu
#        --batch_size= --max_steps= --lfw_path= (aligned LFW TFRecords) --lfw_pairs= (pairs.txt);
#        any other --flag=value passes through to main.py.

data_path=""; ckpt_path=""; precision_mode="allow_mix_precision"; device="npu"
batch_size=256; max_steps=""; lfw_path=""; lfw_pairs=""; extra_flags=()
for arg in "$@"; do
  case $arg in
    --data_path=*) data_path=${arg#*=} ;;
    --ckpt_path=*) ckpt_path=${arg#*=} ;;
    --precision_mode=*) precision_mode=${arg#*=} ;;
    --device=*) device=${arg#*=} ;;
    --batch_size=*) batch_size=${arg#*=} ;;
    --max_steps=*) max_steps=${arg#*=} ;;
    --lfw_path=*) lfw_path=${arg#*=} ;;
    --lfw_pairs=*) lfw_pairs=${arg#*=} ;;
    --help|-h) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) extra_flags+=("$arg") ;;
  esac
done

Network=PFE_SphereNet_ID0000
export RANK_SIZE=1
export RANK_ID=0
export JOB_ID=${JOB_ID:-10087}
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export TF_CPP_MIN_LOG_LEVEL=2
export ASCEND_SLOG_PRINT_TO_STDOUT=0
code_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output_dir=${OUTPUT_DIR:-$code_dir/output}/$ASCEND_DEVICE_ID
train_log=$output_dir/train_$ASCEND_DEVICE_ID.log
mkdir -p "$output_dir"

train_flags=(--mode=train --device="$device" --precision_mode="$precision_mode" --batch_size="$batch_size"
             --model_dir="$output_dir/ckpt")
if [ "$device" = gpu ]; then
  case $precision_mode in
    allow_mix_precision|allow_fp32_to_fp16|force_fp16) train_flags+=(--precision=mixed) ;;
  esac
fi
if [ -n "$data_path" ]; then train_flags+=(--data_dir="$data_path"); else train_flags+=(--data=synthetic); fi
[ -n "$ckpt_path" ] && train_flags+=(--pretrained_ckpt="$ckpt_path")
[ -n "$max_steps" ] && train_flags+=(--max_steps="$max_steps")

e2e_start=$(date +%s)

# run_training: main.py training with the flags above plus extra_flags; the whole log in $train_log.
run_training() {
  echo "$Network: device $device, precision_mode $precision_mode, batch $batch_size, log $train_log"
  python3 "$code_dir/main.py" "${train_flags[@]}" "${extra_flags[@]}" > "$train_log" 2>&1
}

# report_performance CASE_SUFFIX [extra key=value ...]: closing lines and the summary file.
# ActualFPS = mean images/s of the logged intervals after the first (start-up excluded);
# TrainingTime = average seconds per training step = batch_size / ActualFPS;
# ActualLoss = the last logged loss; E2ETrainingTime = seconds for the whole script.
report_performance() {
  local case_suffix=$1; shift
  local fps loss training_time e2e case_name summary
  fps=$(grep -o '[0-9.]* images/s' "$train_log" | awk 'NR > 1 {sum += $1; n++} END {if (n) printf "%.2f", sum / n; else print "0"}')
  loss=$(grep -o 'step [0-9]*: loss = [-0-9.e+]*' "$train_log" | tail -n 1 | awk '{print $NF}')
  training_time=$(awk -v b="$batch_size" -v f="$fps" 'BEGIN {if (f > 0) printf "%.6f", b / f; else print "0"}')
  e2e=$(( $(date +%s) - e2e_start ))
  case_name=${Network}_bs${batch_size}_${RANK_SIZE}p_${case_suffix}
  echo "Final Performance images/sec : $fps"
  echo "Final Performance TrainingTime : $training_time (seconds per step)"
  echo "E2E Training Duration sec : $e2e"
  summary=$output_dir/${case_name}.log
  {
    echo "Network = $Network"
    echo "RankSize = $RANK_SIZE"
    echo "BatchSize = $batch_size"
    echo "DeviceType = $device"
    echo "CaseName = $case_name"
    echo "ActualFPS = $fps"
    echo "TrainingTime = $training_time"
    echo "ActualLoss = ${loss:-nan}"
    echo "E2ETrainingTime = $e2e"
    for pair in "$@"; do echo "$pair"; done
  } > "$summary.partial"
  mv "$summary.partial" "$summary"
  echo "summary: $summary"
}
