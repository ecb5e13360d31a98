#!/bin/bash
# ModelZoo accuracy case, one device: the paper's PFE training (3000 steps), then the LFW 10-fold protocol;
# TrainAccuracy is the MLS accuracy in percent.
#
#   cd test && bash train_full_1p.sh --data_path=/data/pfe
#
# --data_path must hold tfrecords/, pretrained/ and lfw/ (with pairs.txt), or give --tfrecords_path,
# --ckpt_path, --lfw_path, --lfw_pairs (see modelzoo_common.sh). The report (report.json and plots) goes to
# output/$ASCEND_DEVICE_ID/report, the evaluation log to output/$ASCEND_DEVICE_ID/test_$ASCEND_DEVICE_ID.log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/modelzoo_common.sh"
[ -n "$tfrecords_path" ] || fail "no training TFRecords: --data_path needs tfrecords/manifest.json, or give --tfrecords_path"
[ -n "$ckpt_path" ] || fail "no backbone checkpoint: --data_path needs pretrained/, or give --ckpt_path (a random backbone has no accuracy to measure)"
[ -n "$lfw_path" ] && [ -n "$lfw_pairs" ] || fail "no LFW: --data_path needs lfw/ with manifest.json and pairs.txt, or give --lfw_path and --lfw_pairs"
out=$(device_output "$ASCEND_DEVICE_ID")
run_device "$ASCEND_DEVICE_ID" 1 || fail "training failed: see $out/train_$ASCEND_DEVICE_ID.log" "$out/train_$ASCEND_DEVICE_ID.log"
test_log=$out/test_${ASCEND_DEVICE_ID}.log
python3 "$code_dir/main.py" --mode=eval --device="$device" --precision_mode="$precision_mode" \
  --batch_size="$batch_size" --model_dir="$out/ckpt" --lfw_dir="$lfw_path" --lfw_pairs="$lfw_pairs" \
  --report_dir="$out/report" ${extra_flags[@]+"${extra_flags[@]}"} > "$test_log" 2>&1 \
  || fail "evaluation failed: see $test_log" "$test_log"
train_accuracy=$(python3 -c "import json,sys; print('%.2f' % (100 * json.load(open(sys.argv[1]))['lfw']['mls']['accuracy_mean']))" \
                 "$out/report/report.json")
echo "Final Train Accuracy : $train_accuracy"
final_summary acc "$ASCEND_DEVICE_ID" "TrainAccuracy = $train_accuracy"
