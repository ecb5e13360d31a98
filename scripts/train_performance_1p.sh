#!/usr/bin/env bash
# ModelZoo performance test: a short PFE training run, then images/s, seconds per step and loss.
#
#   bash scripts/train_performance_1p.sh --data_path=tfrecords/casia --ckpt_path=pretrained/sphere64_caisa_am
#   bash scripts/train_performance_1p.sh --device=cpu --batch_size=32 --max_steps=20 --backbone=sphere20
#
# Without --data_path it trains on synthetic P x K batches. Default 1000 steps. Flags: see modelzoo_common.sh.
set -euo pipefail
source "$(dirname "$0")/modelzoo_common.sh"
[ -z "$max_steps" ] && train_flags+=(--max_steps=1000)
run_training || { echo "training failed: see $train_log" >&2; tail -n 20 "$train_log" >&2; exit 1; }
report_performance perf
