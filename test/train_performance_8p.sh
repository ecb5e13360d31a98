#!/bin/bash
# ModelZoo performance case, 8 devices: one training process per device (RANK_ID = device), gradients
# averaged by NPUDistributedOptimizer; images/s of all ranks, ms per step, loss of rank 0.
#
#   cd test && RANK_TABLE_FILE=/path/hccl_8p.json bash train_performance_8p.sh --data_path=/data/pfe
#
# RANK_SIZE may be set lower for a partial machine. Flags: see modelzoo_common.sh.
set -euo pipefail
export RANK_SIZE=${RANK_SIZE:-8}
source "$(dirname "${BASH_SOURCE[0]}")/modelzoo_common.sh"
[ -n "${RANK_TABLE_FILE:-}" ] || fail "set RANK_TABLE_FILE to the HCCL rank table JSON of the $RANK_SIZE devices"
export RANK_TABLE_FILE
[ -n "$max_steps" ] || max_steps=1000
pids=()
for ((rank = 0; rank < RANK_SIZE; rank++)); do
  run_device "$rank" 100 "$rank" &
  pids+=($!)
done
status=0
for pid in ${pids[@]+"${pids[@]}"}; do
  wait "$pid" || status=1
done
[ "$status" -eq 0 ] || fail "training failed on a rank: see $output_root/*/train_*.log"
final_summary perf 0
