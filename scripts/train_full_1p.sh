#!/usr/bin/env bash
# ModelZoo accuracy test: the full PFE training (3000 steps by default), then LFW evaluation.
#
#   bash scripts/train_full_1p.sh --data_path=tfrecords/casia --ckpt_path=pretrained/sphere64_caisa_am \
#       --lfw_path=tfrecords/lfw --lfw_pairs=pairs.txt
#
# TrainAccuracy is the LFW 10-fold accuracy of MLS scores (fraction) when --lfw_path and --lfw_pairs are
# given; the report (report.json + plots) goes to output/$ASCEND_DEVICE_ID/report. Flags: modelzoo_common.sh.
set -euo pipefail
source "$(dirname "$0")/modelzoo_common.sh"
run_training || { echo "training failed: see $train_log" >&2; tail -n 20 "$train_log" >&2; exit 1; }
accuracy=nan
if [ -n "$lfw_path" ] && [ -n "$lfw_pairs" ]; then
  # evaluation reuses the training flags that describe the model; the device runs predict
  python3 "$code_dir/main.py" --mode=eval --device="$device" --precision_mode="$precision_mode" \
    --batch_size="$batch_size" --model_dir="$output_dir/ckpt" --lfw_dir="$lfw_path" --lfw_pairs="$lfw_pairs" \
    --report_dir="$output_dir/report" "${extra_flags[@]}" >> "$train_log" 2>&1 \
    || { echo "evaluation failed: see $train_log" >&2; tail -n 20 "$train_log" >&2; exit 1; }
  accuracy=$(python3 -c "import json,sys; print('%.4f' % json.load(open(sys.argv[1]))['lfw']['mls']['accuracy_mean'])" \
             "$output_dir/report/report.json")
  echo "Final Train Accuracy (LFW, MLS) : $accuracy"
else
  echo "no --lfw_path/--lfw_pairs: TrainAccuracy not measured" >&2
fi
report_performance acc "TrainAccuracy = $accuracy"
