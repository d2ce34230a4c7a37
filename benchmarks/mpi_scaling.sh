#!/usr/bin/env bash
# Data-parallel scaling on one machine: the MNIST CNN trained by one process with one
# thread, then by `mpirun -np 2 --bind-to core` with one thread per rank, same seed and
# epochs (no early stopping). Prints each run's training samples per second (from
# history.csv's seconds column: training time, validation excluded), its test accuracy,
# the all-reduce's share of the 2-rank run, and the speed-up.
#   bash benchmarks/mpi_scaling.sh [EPOCHS] [extra mnist_cnn flags...]
# Run it on an idle machine (it uses both cores).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-3}
shift || true
bazel build //examples:mnist_cnn >/dev/null 2>&1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(--epochs="$epochs" --patience="$epochs" --threads=1 "$@")

run() {  # run NAME COMMAND...: trains, prints samples/s and accuracy
  local name=$1
  shift
  "$@" "${flags[@]}" --output_dir="$out/$name" --model_dir="$out/$name/model" \
    >"$out/$name.log" 2>&1
  local samples seconds accuracy
  samples=$(grep -oE "^Using [0-9]+ training" "$out/$name.log" | grep -oE "[0-9]+")
  seconds=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "seconds") c = i }
                     NR > 1 { s += $c } END { print s }' "$out/$name/history.csv")
  accuracy=$(grep -oE "Test Accuracy: [0-9.]+" "$out/$name.log" | grep -oE "[0-9.]+$")
  awk -v n="$name" -v s="$samples" -v e="$epochs" -v t="$seconds" -v a="$accuracy" \
    'BEGIN { printf "%-28s %8.1f samples/s  (%d x %d samples in %.1f s)  test accuracy %s\n",
             n, s * e / t, e, s, t, a }'
  awk -v s="$samples" -v e="$epochs" -v t="$seconds" 'BEGIN { print s * e / t }' \
    >"$out/$name.rate"
}

run "1 process, 1 thread" bazel-bin/examples/mnist_cnn
run "mpirun -np 2, 1 thread each" mpirun -np 2 --bind-to core bazel-bin/examples/mnist_cnn
grep "^Data-parallel: " "$out/mpirun -np 2, 1 thread each.log"
awk -v two="$(cat "$out/mpirun -np 2, 1 thread each.rate")" \
  -v one="$(cat "$out/1 process, 1 thread.rate")" \
  'BEGIN { printf "speed-up of 2 ranks over 1 process: %.2fx\n", two / one }' 
