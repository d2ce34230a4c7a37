#!/usr/bin/env bash
# Data-parallel training under mpirun (data_parallel_check.cc): runs of 1, 2 and 4 ranks,
# and a second run of 2, must hold bit-identical weights on every rank, the same history
# and the same checkpoint files; 3 ranks are refused with a message; a rank killed
# mid-training ends the job with a non-zero status (no hang), and rerunning the command
# (on 4 ranks) resumes from the backup to the same result. The two batch norm models
# (synchronised batch norm) must hold the same bits, moving statistics included, for 1, 2,
# 4 and 8 ranks, and their statistics must be those of the whole batch (the check's own
# test, which fails the run otherwise).
#   data_parallel_test.sh CHECK_BINARY LSAN_SUPPRESSIONS TSAN_SUPPRESSIONS
set -uo pipefail
check=$1
# Open MPI refuses to run as root unless told (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under --config=asan and --config=tsan: Open MPI's own leaks and lock order are not
# gradway's (third_party/lsan_open_mpi.supp and tsan_open_mpi.supp say which and why).
# Matching a leak to Open MPI's libraries needs its whole allocation stack. Binaries built
# without a sanitizer ignore these variables.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(realpath "$2")"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$(realpath "$3")"
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

run() {  # run NP DIR [MODEL]: mpirun -np NP over DIR (fresh unless it exists), output in DIR.log
  local np=$1 dir=$2
  mkdir -p "$dir"
  timeout 300 mpirun -np "$np" --oversubscribe --bind-to none "$check" "$dir" ${3:-} \
    >"$dir.log" 2>&1
}

same() {  # same DIR_A DIR_B: the weights of every rank, the history and checkpoints agree
  local a=$1 b=$2 f
  for f in "$b"/weights.rank*.safetensors; do
    cmp -s "$a/weights.rank0.safetensors" "$f" || fail "$f differs from $a/weights.rank0"
  done
  cmp -s "$a/history.txt" "$b/history.txt" || fail "$b/history.txt differs from $a's"
  diff <(cut -d, -f1-5 "$a/history.csv") <(cut -d, -f1-5 "$b/history.csv") >/dev/null ||
    fail "$b/history.csv differs from $a's"
  for f in "$a"/ckpt-*; do
    cmp -s "$f" "$b/$(basename "$f")" || fail "checkpoint $(basename "$f") differs in $b"
  done
  [ "$(ls "$a"/ckpt-* | wc -l)" = "$(ls "$b"/ckpt-* | wc -l)" ] ||
    fail "$a and $b hold different checkpoints"
}

for np in 1 2 4; do
  run "$np" "$tmp/np$np" || { fail "mpirun -np $np exited with $?"; cat "$tmp/np$np.log"; }
  n=$(ls "$tmp/np$np"/weights.rank*.safetensors 2>/dev/null | wc -l)
  [ "$n" = "$np" ] || fail "-np $np wrote $n weight files"
done
cat "$tmp/np2.log"
same "$tmp/np1" "$tmp/np1"
same "$tmp/np1" "$tmp/np2"
same "$tmp/np1" "$tmp/np4"
run 2 "$tmp/np2_again" || fail "the second -np 2 run exited with $?"
same "$tmp/np2" "$tmp/np2_again"
[ -e "$tmp/np2/backup" ] && fail "the backup was not removed after training"
echo "epochs trained: $(cut -d' ' -f1 "$tmp/np1/history.txt" | sort -u | wc -l)"

# Three ranks cannot split 8 micro-shards: a message, not a hang.
if run 3 "$tmp/np3"; then fail "-np 3 succeeded"; fi
grep -q "power-of-two rank count" "$tmp/np3.log" || { fail "-np 3: no message"; cat "$tmp/np3.log"; }

# Rank 1 of 2 dies after step 7: the job ends non-zero; the rerun, on 4 ranks, resumes from
# the backup (saved every 3 steps) and finishes as the uninterrupted run did.
start=$SECONDS
if GRADWAY_TEST_DIE_RANK=1 GRADWAY_TEST_DIE_STEP=7 run 2 "$tmp/killed"; then
  fail "the job with a killed rank exited with status 0"
fi
echo "killed rank: the job ended in $((SECONDS - start)) s"
grep -iE "signal 9|killed" "$tmp/killed.log" || { fail "no message about the killed rank"; cat "$tmp/killed.log"; }
[ -e "$tmp/killed/backup/backup.safetensors" ] || fail "no backup after the kill"
mv "$tmp/killed.log" "$tmp/killed.first.log"
# Resumed on 4 ranks: the result does not depend on the rank count.
run 4 "$tmp/killed" || { fail "the rerun exited with $?"; cat "$tmp/killed.log"; }
grep "Resuming from the backup" "$tmp/killed.log" || fail "the rerun did not resume"
same "$tmp/np1" "$tmp/killed"

# Synchronised batch norm: the same bits for 1, 2, 4 and 8 ranks (in the last step of each
# epoch, some of 4 or 8 ranks have no sample and run a placeholder).
for model in bn_cnn bn_residual; do
  for np in 1 2 4 8; do
    dir="$tmp/$model.np$np"
    run "$np" "$dir" "$model" || { fail "$model: mpirun -np $np exited with $?"; cat "$dir.log"; }
  done
  for np in 2 4 8; do same "$tmp/$model.np1" "$tmp/$model.np$np"; done
  echo "$model: epochs trained: $(cut -d' ' -f1 "$tmp/$model.np1/history.txt" | sort -u | wc -l)"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASSED: 1, 2 and 4 ranks bit-identical; rank death ends the job; rerun resumes;" \
  "batch norm models bit-identical on 1, 2, 4 and 8 ranks"
