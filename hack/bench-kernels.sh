#!/usr/bin/env bash
# Per-user fine-tuning and training steps with the SIMD kernels against the
# pure-Go ones (trainer/kernels), in the shape of the PyTorch comparison:
# Wide&Deep, embeddings of 8, MLP 200-80, SGD lr 0.01, batch 32, one core.
#
#   hack/bench-kernels.sh          (make bench-kernels)
#   ROUNDS=5 BENCHTIME=2s hack/bench-kernels.sh
#
# One test binary runs ROUNDS times per implementation, interleaved (SIMD,
# generic, SIMD, ...), with GOMAXPROCS=1. Printed: medians of users/s and
# samples/s (wall) and of CPU time per operation (getrusage), the SIMD to
# generic ratios of both, the kernels' GFLOP/s, and the load average.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-3}"
BENCHTIME="${BENCHTIME:-1s}"
bin="bin/bench-kernels"
mkdir -p "${bin}"
go test -c -o "${bin}/model.test" ./trainer/model
go test -c -o "${bin}/kernels.test" ./trainer/kernels

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=""
for ((r = 1; r <= ROUNDS; r++)); do
  for impl in simd generic; do
    env_impl=""
    [[ "${impl}" == generic ]] && env_impl=generic
    res="$(cd trainer/model && LCFT_KERNELS="${env_impl}" GOMAXPROCS=1 "../../${bin}/model.test" \
      -test.run '^$' -test.bench '^Benchmark(FineTuneUserSGD|TrainStepSGD)$' \
      -test.benchtime "${BENCHTIME}" -test.cpu 1)"
    out+="$(printf '%s\n' "${res}" | grep '^Benchmark' | sed "s/^/${impl} /")"$'\n'
  done
done
printf '%s' "${out}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# median IMPL BENCHMARK UNIT
median() {
  printf '%s' "${out}" | awk -v i="$1" -v b="$2" -v unit="$3" '
    $1 == i && $2 == b { for (k = 3; k < NF; k++) if ($(k+1) == unit) print $k }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }

echo
printf 'median of %d interleaved rounds, one core (GOMAXPROCS=1)\n' "${ROUNDS}"
printf '%-28s %14s %14s %8s %14s %14s %8s\n' benchmark "simd/s" "generic/s" "wall x" "simd cpu-ns" "generic cpu-ns" "cpu x"
for spec in "BenchmarkFineTuneUserSGD users/s" "BenchmarkTrainStepSGD/batch32 samples/s" "BenchmarkTrainStepSGD/batch1024 samples/s"; do
  read -r b unit <<<"${spec}"
  s="$(median simd "${b}" "${unit}")"
  g="$(median generic "${b}" "${unit}")"
  sc="$(median simd "${b}" cpu-ns/op)"
  gc="$(median generic "${b}" cpu-ns/op)"
  printf '%-28s %14s %14s %8s %14s %14s %8s\n' "${b#Benchmark} (${unit})" "${s}" "${g}" "$(ratio "${s}" "${g}")" "${sc}" "${gc}" "$(ratio "${gc}" "${sc}")"
done

echo
echo "kernels (GFLOP/s of wall time, one run each; PeakFMA: register-only FMAs, per CPU second):"
(cd trainer/kernels && GOMAXPROCS=1 "../../${bin}/kernels.test" -test.run '^$' -test.bench '^Benchmark(Gemm|PeakFMA)' \
  -test.benchtime 0.3s -test.cpu 1 | awk '/^Benchmark/ { for (k = 3; k < NF; k++) if ($(k+1) == "GFLOP/s" || $(k+1) == "GFLOP/cpu-s") printf "  %-40s %8s %s\n", $1, $k, $(k+1) }')
echo "model FLOPs: Wide&Deep dim 8 (MLP 40-200-80-1) costs 144480 FLOPs per sample in a training step"
echo "  (forward 2x24080, weight and input gradients 2x that); GFLOP per CPU second = 144480 x batch / (cpu-ns per step)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
