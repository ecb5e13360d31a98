#!/bin/bash
# ModelZoo performance case, one device: 1000 PFE training steps (iterations_per_loop 100 on the NPU), then
# images/s, ms per step and the loss in output/$ASCEND_DEVICE_ID/.
#
#   cd test && bash train_performance_1p.sh --data_path=/data/pfe [--precision_mode=allow_mix_precision]
#
# --data_path holds tfrecords/ and pretrained/ (see modelzoo_common.sh); without tfrecords/ the run uses
# synthetic P x K batches, without pretrained/ a random backbone (throughput is the same).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/modelzoo_common.sh"
[ -n "$max_steps" ] || max_steps=1000
log=$(device_output "$ASCEND_DEVICE_ID")/train_${ASCEND_DEVICE_ID}.log
run_device "$ASCEND_DEVICE_ID" 100 || fail "training failed: see $log" "$log"
final_summary perf "$ASCEND_DEVICE_ID"
