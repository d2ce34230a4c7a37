#!/usr/bin/env bash
# Memory over time: trains the MNIST CNN (//examples:mnist_cnn) for 30 epochs with no early
# stop and prints its resident memory (VmRSS) and peak (VmHWM) at the end of every epoch,
# read from /proc while it runs, then whether RSS stays flat after epoch 2 (within 5%).
#
#   bash benchmarks/rss_per_epoch.sh [EPOCHS] [more mnist_cnn flags, e.g. --threads=2]
#
# Exits non-zero when the program fails or RSS grows by more than 5% after epoch 2.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-30}
shift || true
bazel build -c opt //examples:mnist_cnn 2>/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./bazel-bin/examples/mnist_cnn --epochs="$epochs" --patience="$epochs" \
  --model_dir="$dir/model" --output_dir="$dir/output" "$@" >"$dir/log.txt" 2>&1 &
pid=$!
done_epochs=0
rss_list=()
echo "epoch  RSS (MiB)  peak (MiB)"
while kill -0 "$pid" 2>/dev/null; do
  # ModelCheckpoint prints one message at the end of every epoch.
  n=$(grep -cE '^Epoch [0-9]+: val_loss (improved|did not improve)' "$dir/log.txt" || true)
  if [ "$n" -gt "$done_epochs" ]; then
    status=$(cat "/proc/$pid/status" 2>/dev/null || true)
    rss=$(awk '/^VmRSS/{print $2}' <<<"$status")
    hwm=$(awk '/^VmHWM/{print $2}' <<<"$status")
    [ -n "$rss" ] || break
    done_epochs=$n
    rss_list+=("$rss")
    awk -v n="$n" -v r="$rss" -v h="$hwm" 'BEGIN { printf "%5d  %9.1f  %10.1f\n", n, r / 1024, h / 1024 }'
  fi
  sleep 0.1
done
wait "$pid" || { cat "$dir/log.txt"; exit 1; }
grep "Test Accuracy" "$dir/log.txt"
if [ "${#rss_list[@]}" -lt 3 ]; then echo "fewer than 3 epochs: nothing to compare"; exit 0; fi
# RSS at the end of epoch 2 against the largest at any later epoch end.
printf '%s\n' "${rss_list[@]:1}" | awk '
  NR == 1 { base = $1; max = $1 }
  $1 > max { max = $1 }
  END {
    growth = 100 * (max - base) / base
    printf "RSS after epoch 2: %.1f MiB; largest later: %.1f MiB (+%.2f%%)\n", base / 1024, max / 1024, growth
    if (growth > 5) { print "RSS grew by more than 5%"; exit 1 }
    print "flat within 5%"
  }'
