#!/usr/bin/env bash
# One GPU session's measurements, in one command (see benchmarks/README.md, "GPU run"):
#   1. train_speed.py, gvutil's fit() against a hand-written jitted loop (float32, mixed_bfloat16);
#   2. at the same time on the same GPU
#      a. chapter 4's pages executed with the full profile by tests/converged.py (which exports the
#         trained models into $W/checkpoints, never into the package), each timed;
#      b. a few DCGAN settings trained for 30,000 steps (gan_recipes.py, FID on validation images);
#   3. everything packed into $OUT/gpu_results.tar.gz (executed pages, JSON, logs, weights, RECORD).
#
# Run from the repository root on a machine with JAX on CUDA (no TensorFlow needed):
#   OUT=/tmp/gpu GVUTIL_DATA_DIR=/path/with/mnist bash benchmarks/gpu_run.sh
# Wheels in ./.whl (keras, namex, optree, nbconvert and its kernel) are installed first if present;
# MNIST is read from $GVUTIL_DATA_DIR (default ./.data). GPU_RUN_SECONDS bounds the whole run.
# GVUTIL_PROFILE=tiny (with JAX on a CPU) runs the same code at 1/1000 of the sizes, as a rehearsal.
set -u
GPU_DEFAULT_BUDGET=540
. "$(dirname "$0")/gpu_env.sh"
mkdir -p "$W/pages" "$W/weights"
log() { echo "[$(( $(date +%s) - START ))s] $*" | tee -a "$W/run.log"; }
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # several processes share the GPU
export GVUTIL_DATA_DIR=${GVUTIL_DATA_DIR:-$PWD/.data}
PROFILE=${GVUTIL_PROFILE:-full}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  lscpu | grep -E "^Model name|^CPU\(s\)"
  python3 -c "import gvutil, json; from gvutil import train; print(json.dumps({**gvutil.versions(), 'device': train.accelerator()}))"
} > "$W/machine.txt" 2>&1
cat "$W/machine.txt"
# Fail fast (before the long stages) if this Keras/JAX pair cannot train a gvutil model at all.
timeout 120 python3 - <<'EOF' || { log "smoke check failed"; cp "$W/machine.txt" "$OUT/"; exit 3; }
import numpy as np
import gvutil
from gvutil import models, train
gan = models.make_gan("dcgan", filters=8, seed=0)
gan.fit(train.dataset(np.zeros((256, 28, 28), "uint8"), 64, seed=0), epochs=1, verbose=0)
vae = models.make_vae("mlp", seed=0)
vae.fit(train.dataset(np.zeros((256, 28, 28), "uint8"), 64, seed=0), epochs=1, verbose=0)
print("smoke check: a DCGAN and a VAE trained one epoch on", train.accelerator())
EOF

# 1. Speed, alone on the GPU.
if [ "$PROFILE" = tiny ]; then SPEED="--quick"; else SPEED=""; fi
log "speed float32"
timeout 120 python3 benchmarks/train_speed.py $SPEED --json "$W/speed_float32.json" > "$W/speed_float32.log" 2>&1
log "speed mixed_bfloat16 (rc of float32: $?)"
timeout 90 python3 benchmarks/train_speed.py $SPEED --precision mixed_bfloat16 --json "$W/speed_bf16.json" \
  > "$W/speed_bf16.log" 2>&1
log "speed done (rc $?)"

# 2b. DCGAN settings for the long run, in the background (three processes on the GPU).
STEPS=30000; [ "$PROFILE" = tiny ] && STEPS=100
timeout $(( $(left) - 25 )) python3 benchmarks/gan_recipes.py --variants dcgan,dcgan_lr2e-4,dcgan_f64_lr5e-4 \
  --seeds 0 --steps $STEPS --workers 3 --threads 0 --out "$W/gan_long_runs.json" --save-dir "$W/weights" \
  > "$W/gan_long_runs.log" 2>&1 &
SWEEP=$!

# 2a. Chapter 4's pages, full profile, one after the other; each page's wall time is logged.
for nb in 04_gan_recipe 04_gan_code 04_vae_code 04_vae_latent2d; do
  t=$(( $(left) - 25 ))
  [ "$t" -gt 20 ] || { log "no time left for $nb"; continue; }
  log "page $nb (limit ${t}s)"
  s=$(date +%s)
  timeout "$t" python3 tests/converged.py --out "$W/pages" --pages "$nb" --profile "$PROFILE" \
    > "$W/pages/$nb.log" 2>&1
  log "page $nb rc $? in $(( $(date +%s) - s ))s"
done
wait $SWEEP; log "long DCGAN runs rc $?"

cp -r "$W/pages/checkpoints" "$W/weights" 2>/dev/null  # install with gvutil.pretrained.install(...)
# The device tool returns files of at most 16 MB: pack everything but the installed wheels, in parts
# (join them with `cat gpu_results.tgz.part_* > gpu_results.tgz`).
rm -rf "$W/site"
cp "$W/run.log" "$OUT/run.log"
tar czf - -C "$W" . | split -b 15M - "$OUT/gpu_results.tgz.part_"
log "packed $(du -ch "$OUT"/gpu_results.tgz.part_* | tail -1 | cut -f1) in $(ls "$OUT"/gpu_results.tgz.part_* | wc -l) part(s)"
