#!/usr/bin/env bash
# Where does fit() lose to the hand-written jitted loop on a GPU? (benchmarks/README.md, "GPU run")
# train_speed.py on JAX in several settings, each in its own process, results in $OUT:
#   * the steady state (--epochs 4: one fit() of 4 epochs over 60,000 images, epochs 2-4 timed)
#     with steps_per_execution 8 (gvutil's default on a JAX accelerator) and 32, float32 and
#     mixed_bfloat16, DCGAN batch 256 and MLP VAE batch 128;
#   * the mode of the earlier run (one fit() of 200 steps, start-up included), for comparison.
# Run from the repository root on a machine with JAX on CUDA, the wheels of gpu_run.sh in ./.whl:
#   OUT=/tmp/gpu bash benchmarks/gpu_speed.sh          (GPU_RUN_SECONDS bounds the whole run)
set -u
GPU_DEFAULT_BUDGET=450
. "$(dirname "$0")/gpu_env.sh"
log() { echo "[$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/run.log"; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import gvutil, json; from gvutil import train; print(json.dumps({**gvutil.versions(), 'device': train.accelerator()}))"
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
EPOCHS=${SPEED_EPOCHS:-4}
# name | arguments; GPU_SPEED_LIST (lines of the same form) replaces this list
DEFAULT_LIST="bf16_spe8|--precision mixed_bfloat16 --epochs $EPOCHS
bf16_spe32|--precision mixed_bfloat16 --epochs $EPOCHS --steps-per-execution 32
f32_spe8|--epochs $EPOCHS
f32_spe32|--epochs $EPOCHS --steps-per-execution 32
bf16_200steps|--precision mixed_bfloat16"
# most important first: the run stops starting new ones when time runs short
while IFS='|' read -r name args; do
  t=$(( $(left) - 10 ))
  [ "$t" -gt 30 ] || { log "no time left for $name"; continue; }
  log "$name: $args (limit ${t}s)"
  timeout "$t" python3 benchmarks/train_speed.py $args --json "$OUT/$name.json" > "$W/$name.log" 2>&1
  log "$name rc $?"
  grep -v "^backend" "$W/$name.log" | tee -a "$OUT/run.log"   # the device tool returns 8 files at most
done <<LIST
${GPU_SPEED_LIST:-$DEFAULT_LIST}
LIST
log "done"
