#!/usr/bin/env bash
# Builds the libFuzzer harnesses (envelope reader, record parser) with AddressSanitizer and runs
# each for FUZZ_SECONDS (default 30) on a copy of its seed corpus in Fuzz/corpus/.
#
#   scripts/fuzz.sh                      # both harnesses, 30 s each (CI)
#   FUZZ_SECONDS=1800 scripts/fuzz.sh    # the long run
#   scripts/fuzz.sh FuzzRecords          # one harness
#
# A crash stops the run with exit status 1 and leaves the input in .build-fuzz/findings/<harness>/;
# replay it with `swift run FuzzEnvelope FILE` (or FuzzRecords). New inputs the fuzzer found
# interesting stay in .build-fuzz/corpus/<harness>/ (add the useful ones to Fuzz/corpus/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
harnesses=("${@:-FuzzEnvelope FuzzRecords}")
read -r -a harnesses <<< "${harnesses[*]}"
scratch=.build-fuzz

mkdir -p "$scratch"
for harness in "${harnesses[@]}"; do
    if ! swift build -c release --scratch-path "$scratch" --product "$harness" \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld > "$scratch/build-$harness.log" 2>&1; then
        grep -E "error" "$scratch/build-$harness.log" | head -20
        echo "== $harness: the harness does not build"
        exit 2
    fi
done
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"

status=0
for harness in "${harnesses[@]}"; do
    name="${harness#Fuzz}"; name="${name,,}"
    corpus="$scratch/corpus/$harness" findings="$scratch/findings/$harness"
    mkdir -p "$corpus" "$findings"
    cp -n Fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    echo "== $harness: ${seconds} s on $(ls "$corpus" | wc -l) corpus inputs"
    # libFuzzer may keep its output pipe open after a crash: bound it with timeout as well.
    if ! timeout $((seconds + 120)) "$bin/$harness" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" 2> "$scratch/$harness.log"; then
        tail -40 "$scratch/$harness.log"
        echo "== $harness: FINDING (input in $findings/)"
        status=1
    else
        grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "$scratch/$harness.log" || tail -3 "$scratch/$harness.log"
    fi
done
exit $status
