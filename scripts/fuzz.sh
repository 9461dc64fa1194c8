#!/bin/sh
# Runs every libFuzzer target of a fuzz build (make fuzz) for $2 seconds
# each, one at a time and niced (the machine is shared), under ASan, UBSan
# and LeakSanitizer. Fails if any target finds a crash, a leak, a sanitizer
# report, a timeout or an out-of-memory; the input that did it is saved as
# $1/fuzz-artifacts/<target>-crash-... (rerun: $1/<target> FILE).
# Corpora grow in $1/fuzz-corpus/<target> across runs, from seeds that
# scripts/fuzz-seeds.sh makes in $1/fuzz-seeds.
set -u
B=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
S=${2:?usage: fuzz.sh BUILD_DIR SECONDS}
HERE=$(cd "$(dirname "$0")" && pwd)
# (Re)make the seeds when a target has none yet (a new target, a new build).
for exe in "$B"/fuzz_*; do
  [ -x "$exe" ] && [ -f "$exe" ] && [ ! -d "$B/fuzz-seeds/$(basename "$exe")" ] && rm -rf "$B/fuzz-seeds"
done
if [ ! -d "$B/fuzz-seeds" ]; then
  echo "fuzz: making seed corpora" >&2
  rm -rf "$B/fuzz-seeds.tmp"
  sh "$HERE/fuzz-seeds.sh" "$B/granite" "$B/fuzz-seeds.tmp" || exit 1
  for exe in "$B"/fuzz_*; do mkdir -p "$B/fuzz-seeds.tmp/$(basename "$exe")"; done
  mv "$B/fuzz-seeds.tmp" "$B/fuzz-seeds"
fi
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs"
export OMP_NUM_THREADS=1
FAILED=""
for exe in "$B"/fuzz_*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  t=$(basename "$exe")
  mkdir -p "$B/fuzz-corpus/$t"
  # -timeout=60: generous, the machine may be busy; -close_fd_mask=3 mutes
  # the targets' own error lines (sanitizer and libFuzzer reports still reach
  # the log); timeout(1): libFuzzer's exit can hang after a report while
  # OpenMP threads are up.
  timeout -s KILL $((S + 300)) nice -n 10 "$exe" -max_total_time="$S" -timeout=60 -rss_limit_mb=2048 -max_len=65536 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$B/fuzz-artifacts/$t-" \
    "$B/fuzz-corpus/$t" "$B/fuzz-seeds/$t" >"$B/fuzz-logs/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/fuzz-logs/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$B/fuzz-logs/$t.log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: ok, ${runs:-?} runs in ${S}s, $cov"
  else
    echo "fuzz: $t: FAILED (status $rc), see $B/fuzz-logs/$t.log:" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$B/fuzz-logs/$t.log" | head -n 5 >&2
    FAILED="$FAILED $t"
  fi
done
[ -z "$FAILED" ] || { echo "fuzz: failed:$FAILED" >&2; exit 1; }
