#!/bin/bash
# Sourced by the ModelZoo test scripts beside it (train_performance_1p.sh, train_full_1p.sh,
# train_performance_8p.sh): argument parsing, environment, output layout and the closing summary, as
# ModelZoo's tooling parses them. Run the scripts from this folder: cur_path=$(pwd), output in
# ${cur_path}/output/${ASCEND_DEVICE_ID}/ (removed at the start of every run).
#
# Flags:
#   --data_path=ROOT       a root holding tfrecords/ (training TFRecords), pretrained/ (the backbone
#                          checkpoint) and lfw/ (aligned LFW TFRecords with pairs.txt); each overridable:
#   --tfrecords_path= --ckpt_path= --lfw_path= --lfw_pairs=
#   --precision_mode=      NPU precision mode (default allow_mix_precision)
#   --over_dump= --data_dump_flag= --data_dump_step= --profiling=   NPU overflow/data dump and profiling
#                          (True/False; dumps under output/overflow_dump, data_dump, profiling)
#   --device=npu|gpu|cpu   default npu; --batch_size= (default 256) --max_steps=
#   any other --flag=value goes to main.py.

cur_path=$(pwd)
code_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
Network="pfe_ID0982_for_TensorFlow"

data_path=""; tfrecords_path=""; ckpt_path=""; lfw_path=""; lfw_pairs=""
precision_mode="allow_mix_precision"; device="npu"; batch_size=256; max_steps=""
over_dump=False; data_dump_flag=False; data_dump_step="10"; profiling=False
extra_flags=()
for para in "$@"; do
  case $para in
    --data_path=*) data_path=${para#*=} ;;
    --tfrecords_path=*) tfrecords_path=${para#*=} ;;
    --ckpt_path=*) ckpt_path=${para#*=} ;;
    --lfw_path=*) lfw_path=${para#*=} ;;
    --lfw_pairs=*) lfw_pairs=${para#*=} ;;
    --precision_mode=*) precision_mode=${para#*=} ;;
    --over_dump=*) over_dump=${para#*=} ;;
    --data_dump_flag=*) data_dump_flag=${para#*=} ;;
    --data_dump_step=*) data_dump_step=${para#*=} ;;
    --profiling=*) profiling=${para#*=} ;;
    --device=*) device=${para#*=} ;;
    --batch_size=*) batch_size=${para#*=} ;;
    --max_steps=*) max_steps=${para#*=} ;;
    --help|-h) sed -n '7,17p' "${BASH_SOURCE[0]}"; exit 1 ;;
    *) extra_flags+=("$para") ;;
  esac
done

# the documented subfolders of --data_path, each unless given explicitly
if [ -n "$data_path" ]; then
  [ -z "$tfrecords_path" ] && [ -f "$data_path/tfrecords/manifest.json" ] && tfrecords_path=$data_path/tfrecords
  [ -z "$ckpt_path" ] && [ -d "$data_path/pretrained" ] && ckpt_path=$data_path/pretrained
  [ -z "$lfw_path" ] && [ -f "$data_path/lfw/manifest.json" ] && lfw_path=$data_path/lfw
fi
[ -z "$lfw_pairs" ] && [ -n "$lfw_path" ] && [ -f "$lfw_path/pairs.txt" ] && lfw_pairs=$lfw_path/pairs.txt

export RANK_SIZE=${RANK_SIZE:-1}
export JOB_ID=${JOB_ID:-10087}
[ -n "$JOB_ID" ] || JOB_ID=10087
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-${DEVICE_ID:-0}}
export TF_CPP_MIN_LOG_LEVEL=2
export ASCEND_SLOG_PRINT_TO_STDOUT=0

output_root=${cur_path}/output
start_time=$(date +%s)

# device_output DEVICE_ID: that device's output folder.
device_output() { echo "${output_root}/$1"; }

# train_flags DEVICE_ID ITERATIONS_PER_LOOP: main.py's training flags for one device, one per line.
train_flags() {
  local out iterations=$2
  out=$(device_output "$1")
  printf '%s\n' --mode=train --device="$device" --precision_mode="$precision_mode" --batch_size="$batch_size" \
    --model_dir="$out/ckpt" --over_dump="$over_dump" --over_dump_path="$output_root/overflow_dump" \
    --data_dump_flag="$data_dump_flag" --data_dump_step="$data_dump_step" \
    --data_dump_path="$output_root/data_dump" --profiling="$profiling" \
    --profiling_dump_path="$output_root/profiling"
  if [ "$device" = npu ] && [ "$iterations" -gt 1 ]; then
    printf '%s\n' --iterations_per_loop="$iterations"
  fi
  if [ "$device" = gpu ]; then
    case $precision_mode in
      allow_mix_precision|allow_fp32_to_fp16|force_fp16) printf '%s\n' --precision=mixed ;;
    esac
  fi
  if [ -n "$tfrecords_path" ]; then printf '%s\n' --data_dir="$tfrecords_path"; else printf '%s\n' --data=synthetic; fi
  [ -n "$ckpt_path" ] && printf '%s\n' --pretrained_ckpt="$ckpt_path"
  [ -n "$max_steps" ] && printf '%s\n' --max_steps="$max_steps"
  return 0
}

# run_device DEVICE_ID ITERATIONS_PER_LOOP [RANK_ID]: trains on one device into its output folder, removed
# first (log train_DEVICE_ID.log there); returns main.py's status.
run_device() {
  local out line flags=()
  out=$(device_output "$1")
  rm -rf "$out"
  mkdir -p "$out/ckpt"
  [ "$over_dump" = True ] && mkdir -p "$output_root/overflow_dump"
  [ "$data_dump_flag" = True ] && mkdir -p "$output_root/data_dump"
  [ "$profiling" = True ] && mkdir -p "$output_root/profiling"
  while IFS= read -r line; do flags+=("$line"); done < <(train_flags "$1" "$2")
  RANK_ID=${3:-0} ASCEND_DEVICE_ID=$1 python3 "$code_dir/main.py" ${flags[@]+"${flags[@]}"} ${extra_flags[@]+"${extra_flags[@]}"} \
    > "$out/train_$1.log" 2>&1
}

# final_summary CASE_SUFFIX DEVICE_ID [key = value ...]: the closing lines and ${CaseName}.log.
# ActualFPS: images/s of the whole run from main.py's closing `throughput:` line (images actually
# processed, every rank: RankSize x one rank's rate); TrainingTime: ms per step = BatchSize * RankSize * 1000
# / ActualFPS; the loss file: every logged loss, ActualLoss its last line.
final_summary() {
  local case_suffix=$1 device_id=$2 out log fps training_time e2e_time case_name loss_file actual_loss
  shift 2
  out=$(device_output "$device_id")
  log=$out/train_${device_id}.log
  e2e_time=$(( $(date +%s) - start_time ))
  fps=$(grep -o 'throughput: [0-9.]* images/s' "$log" | tail -n 1 | awk -v r="$RANK_SIZE" '{printf "%.2f", $2 * r}' || true)
  [ -n "$fps" ] || fps=0
  training_time=$(awk -v b="$batch_size" -v r="$RANK_SIZE" -v f="$fps" \
                  'BEGIN {if (f > 0) printf "%.2f", b * r * 1000 / f; else print "nan"}')
  case_name=${Network}_bs${batch_size}_${RANK_SIZE}p_${case_suffix}
  loss_file=$out/train_${case_name}_loss.txt
  { grep -o 'step [0-9]*: loss = [-0-9.e+na]*' "$log" || true; } | awk '{print $NF}' > "$loss_file"
  actual_loss=$(awk 'END {print}' "$loss_file")
  echo "------------------ Final result ------------------"
  echo "Final Performance images/sec : $fps"
  echo "Final Performance TrainingTime : $training_time"
  echo "E2E Training Duration sec : $e2e_time"
  {
    echo "Network = $Network"
    echo "RankSize = $RANK_SIZE"
    echo "BatchSize = $batch_size"
    echo "DeviceType = $(uname -m)"
    echo "CaseName = $case_name"
    echo "ActualFPS = $fps"
    echo "TrainingTime = $training_time"
    echo "ActualLoss = ${actual_loss:-nan}"
    echo "E2ETrainingTime = $e2e_time"
    for pair in "$@"; do echo "$pair"; done
  } > "$out/${case_name}.log"
}

# fail MESSAGE [LOG]: one line on stderr (and the log's tail), exit 1.
fail() {
  echo "[Error] $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
  exit 1
}
