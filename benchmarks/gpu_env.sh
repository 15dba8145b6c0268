# Sourced by gpu_run.sh and gpu_speed.sh (set GPU_DEFAULT_BUDGET first): the time budget and `left`,
# $OUT and a work folder $W, JAX's environment, and the wheels carried to the GPU machine in ./.whl
# (GPU_WHEELS=none: use what is installed, for a rehearsal on a CPU).
START=$(date +%s)
BUDGET=${GPU_RUN_SECONDS:-$GPU_DEFAULT_BUDGET}
OUT=${OUT:-_build/gpu}
W=$(mktemp -d)
mkdir -p "$OUT"
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
export KERAS_BACKEND=jax PYTHONHASHSEED=0 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
WHL=${GPU_WHEELS:-.whl}
if [ -d "$WHL" ] && ls "$WHL"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$W/site" "$WHL"/*.whl || exit 1
  export PYTHONPATH="$W/site"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
