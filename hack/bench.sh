#!/usr/bin/env bash
# Trainer throughput, as ratios against a peer measured in the same process
# (the machines are noisy: absolute numbers vary, ratios much less).
#
#   hack/bench.sh            (make bench)    BENCHTIME=2s COUNT=3 to change
#
# Ratios printed:
#   - per-user fine-tuning on a reused copy-on-write replica (Reset) vs a new
#     replica per user (Fork): what reusing one replica per worker buys;
#   - each architecture's training step vs LR's, and vs Wide&Deep's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCHTIME="${BENCHTIME:-1s}"
COUNT="${COUNT:-3}"
out="$(go test ./trainer/model -run '^$' -count "${COUNT}" -benchtime "${BENCHTIME}" \
  -bench '^Benchmark(FineTuneUser|FineTuneUserFreshFork|TrainStep(LR|WideDeep|DeepFM|PNN|DIN))$')"
printf '%s\n' "${out}" | grep -E '^(Benchmark|goos|goarch|cpu)'

# median of a metric over the -count runs of one benchmark
median() {
  local vals n
  vals="$(printf '%s\n' "${out}" | awk -v b="$1" -v unit="$2" '
    $1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' | sort -g)"
  n="$(printf '%s\n' "${vals}" | grep -c .)" || true
  if [[ "${n}" == 0 ]]; then echo nan; return; fi
  printf '%s\n' "${vals}" | awk -v n="${n}" '{ v[NR] = $1 } END { print (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }

reuse="$(median BenchmarkFineTuneUser users/s)"
fork="$(median BenchmarkFineTuneUserFreshFork users/s)"
echo
echo "per-user fine-tuning (Wide&Deep, 128 samples, Adam), median of ${COUNT}:"
echo "  reused replica: ${reuse} users/s; fresh replica per user: ${fork} users/s; ratio $(ratio "${reuse}" "${fork}")x"
lr="$(median BenchmarkTrainStepLR samples/s)"
wd="$(median BenchmarkTrainStepWideDeep samples/s)"
echo "training step, batch 32 (samples/s, median of ${COUNT}; ratio to LR and to WideDeep):"
for a in LR WideDeep DeepFM PNN DIN; do
  v="$(median "BenchmarkTrainStep${a}" samples/s)"
  printf '  %-9s %12s   %6s x LR   %6s x WideDeep\n' "${a}" "${v}" "$(ratio "${v}" "${lr}")" "$(ratio "${v}" "${wd}")"
done
