#!/usr/bin/env bash
# Builds every fuzz target (cc_fuzzer in a BUILD file: tagged "fuzzer") with --config=fuzz
# and runs each for SECONDS (default 20) over a temporary copy of its checked-in corpus,
# one at a time. Fails on any finding (crash, sanitizer report, leak, timeout over 10 s,
# OOM over libFuzzer's default 2 GiB), keeping the input that triggered it in the
# artifacts folder it names. Needs clang and libFuzzer: bash third_party/install.sh --fuzz.
#   .ci/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS]   (seconds per fuzz target, default 20)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gradway-fuzz.XXXXXX")
artifacts=$(mktemp -d "${TMPDIR:-/tmp}/gradway-fuzz-artifacts.XXXXXX")
trap 'rm -rf "$work"; rmdir "$artifacts" 2>/dev/null || true' EXIT

targets=$(bazel query --noshow_progress 'attr(tags, "\bfuzzer\b", kind(cc_binary, //...))')
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
# shellcheck disable=SC2086  # one label a line
bazel build --config=fuzz $targets
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)
# Sanitizer reports with file:line (llvm-14, installed by install.sh --fuzz).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

failed=() ran=0
for target in $targets; do
  package=${target#//}
  package=${package%%:*}
  name=${target##*:}
  corpus=$package/fuzz/${name%_fuzzer}_corpus
  # The binary and the corpus are copied: another build may replace the one, and libFuzzer
  # adds what it finds to the other.
  mkdir -p "$work/$name"
  cp "$bin/$package/$name" "$work/$name.bin"
  cp -R "$corpus" "$work/$name/corpus"
  echo "fuzz.sh: $target for ${seconds}s over a copy of $corpus ($(ls "$corpus" | wc -l) inputs)"
  if "$work/$name.bin" "$work/$name/corpus" -max_total_time="$seconds" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$name-" >"$work/$name.log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$name.log" | tail -n 1 || tail -n 3 "$work/$name.log"
  else
    tail -n 60 "$work/$name.log"
    echo "fuzz.sh: $target FAILED; the input is in $artifacts/ (see docs/build.md, Fuzzing)"
    failed+=("$target")
  fi
  ran=$((ran + 1))
done

if ((${#failed[@]})); then
  echo "fuzz.sh: ${#failed[@]} of $ran fuzz targets found a problem: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: $ran fuzz targets, ${seconds}s each, no findings"
