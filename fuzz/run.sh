#!/bin/sh
# Runs the libFuzzer harnesses built in build/fuzz (make fuzz-build).
#   fuzz/run.sh smoke          each harness a fixed number of runs from a fixed seed, ~15-30 s each
#                              (part of `make test`; a run count, not a time, keeps it repeatable)
#   fuzz/run.sh long SECONDS   fuzz_convert for SECONDS in FUZZ_JOBS processes (default 1, each its
#                              own seed, one shared corpus, restarted every FUZZ_CHUNK s), then the
#                              other two side by side for a tenth of it; each run appends its
#                              execution count to docs/fuzz-ledger.jsonl
# Corpora grow in build/fuzz/corpus/<harness> (seeded from fuzz/seeds and the regressions);
# crashes land in build/fuzz/crashes/: minimize one with `build/fuzz/fuzz_convert -minimize_crash=1
# -runs=10000 FILE`, then commit it to tests/fuzz/regressions/ and fix the boundary.
set -eu
mode=${1:-smoke}
total=${2:-3600}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/fuzz
exe=$bin/fuzz
mkdir -p "$bin/crashes"
# malloc_context_size=0: ASan records no allocation stacks (12% of an execution in stack unwinding);
# detection is unchanged, and rerunning a crash input with the default ASAN_OPTIONS gives the stacks.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:malloc_context_size=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)  # what was built, for the ledger

# fuzz HARNESS TAG SECONDS RUNS SEED: one libFuzzer process, its log in last-HARNESS[TAG].log.
# Each process has its own crash prefix (crashes/HARNESS[TAG]-), so a crash is charged to the run
# that found it; the log ends with the wall-clock seconds the run really took.
fuzz() {
  h=$1; log=$bin/last-$h$2.log; corpus=$bin/corpus/$h; start=$(date +%s)
  mkdir -p "$corpus"
  # -report_slow_units=30: only a hang (-timeout) is a finding; a unit that took 13 s while the
  # machine was oversubscribed (it runs in 23 ms) was written to crashes/ as a "slow unit".
  "$exe/$h" -seed=$5 -runs=$4 -max_total_time=$3 -max_len=262144 -rss_limit_mb=2560 -malloc_limit_mb=2048 -timeout=30 \
    -report_slow_units=30 \
    -print_final_stats=1 -artifact_prefix="$bin/crashes/$h$2-" "$corpus" "$root/fuzz/seeds" "$root/tests/fuzz/regressions" \
    >"$log" 2>&1 || true
  echo "elapsed_seconds: $(( $(date +%s) - start ))" >>"$log"
}

# report HARNESS TAG: prints the log's summary; a long run also writes its ledger line.
report() {
  h=$1; log=$bin/last-$h$2.log
  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|escaped|Verifier|==[0-9]+==" "$log" || true
  crashed=0
  if ls "$bin/crashes/$h$2-"* >/dev/null 2>&1; then echo "$h$2: crash inputs in $bin/crashes"; status=1; crashed=1; fi
  if [ "$mode" != smoke ]; then  # the ledger of long runs (docs/fuzz-ledger.jsonl), toward issue 11's 10 million
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    printf '{"date": "%s", "commit": "%s", "harness": "%s", "seconds": %s, "executions": %s, "crash_inputs": %s}\n' \
      "$(date -u +%Y-%m-%d)" "$commit" "$h" "$(sed -n 's/^elapsed_seconds: *//p' "$log")" "${execs:-0}" "$crashed" \
      >>"$root/docs/fuzz-ledger.jsonl"
  fi
}

if [ "$mode" = smoke ]; then
  # A fixed seed and run count (repeatable); the time is a cap only.
  for h in fuzz_convert fuzz_json_import fuzz_zip; do
    case $h in fuzz_zip) runs=200000 ;; *) runs=4000 ;; esac
    echo "== $h: $runs runs"
    fuzz $h "" 150 $runs 1
    report $h ""
  done
  exit $status
fi

# Long: -seed=0 lets libFuzzer pick a new seed for each process. Each process restarts every
# FUZZ_CHUNK seconds (default 1200), one ledger line per chunk: an ASan process slows down as it
# ages (its allocator went from 8% to 18% of the time within 20 minutes; 600 → 400 exec/s), and a
# restart costs only re-reading the corpus.
jobs=${FUZZ_JOBS:-1}
chunk=${FUZZ_CHUNK:-1200}
echo "== fuzz_convert: $total s x $jobs processes, restarted every $chunk s"
worker() {  # worker J: fuzz_convert in chunks until $total seconds have passed
  left=$total
  while [ "$left" -gt 0 ]; do
    t=$chunk; [ "$t" -le "$left" ] || t=$left
    fuzz fuzz_convert "-$1" "$t" -1 0
    report fuzz_convert "-$1"
    left=$((left - t))
    if ls "$bin/crashes/fuzz_convert-$1-"* >/dev/null 2>&1; then break; fi
  done
}
j=1; while [ $j -le "$jobs" ]; do worker $j & j=$((j + 1)); done
wait
if ls "$bin/crashes/fuzz_convert-"* >/dev/null 2>&1; then status=1; fi
t=$((total / 10))
echo "== fuzz_json_import, fuzz_zip: $t s each, side by side"
fuzz fuzz_json_import "" $t -1 0 & fuzz fuzz_zip "" $t -1 0 &
wait
report fuzz_json_import ""
report fuzz_zip ""
exit $status
