#!/usr/bin/env bash
# Per-user fine-tuning and training steps with each kernel implementation
# the CPU has (trainer/kernels: avx512, avx2, neon) against the pure-Go
# ones, in the shape of the PyTorch comparison: Wide&Deep, embeddings of 8,
# MLP 200-80, SGD lr 0.01, batch 32, one core.
#
#   hack/bench-kernels.sh          (make bench-kernels)
#   ROUNDS=5 BENCHTIME=2s IMPLS="avx512 avx2 generic" hack/bench-kernels.sh
#
# One test binary runs ROUNDS times per implementation (forced with
# LCFT_KERNELS), interleaved (avx512, avx2, generic, avx512, ...), with
# GOMAXPROCS=1. Printed: medians of users/s and samples/s (wall) and of CPU
# time per operation (getrusage), each implementation's CPU-time ratio to
# the generic one and to the next (avx512 to avx2), the kernels' GFLOP per
# CPU second, and the load average.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-3}"
BENCHTIME="${BENCHTIME:-1s}"
if [[ -z "${IMPLS:-}" ]]; then
  flags="$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo)"
  case "$(uname -m)" in
  x86_64)
    IMPLS="generic"
    [[ " ${flags} " == *" avx2 "* && " ${flags} " == *" fma "* ]] && IMPLS="avx2 ${IMPLS}"
    [[ " ${flags} " == *" avx512f "* && "${IMPLS}" == avx2* ]] && IMPLS="avx512 ${IMPLS}"
    ;;
  aarch64) IMPLS="neon generic" ;;
  *) IMPLS="generic" ;;
  esac
fi
read -r -a impls <<<"${IMPLS}"
bin="bin/bench-kernels"
mkdir -p "${bin}"
go test -c -o "${bin}/model.test" ./trainer/model
go test -c -o "${bin}/kernels.test" ./trainer/kernels

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=""
for ((r = 1; r <= ROUNDS; r++)); do
  for impl in "${impls[@]}"; do
    res="$(cd trainer/model && LCFT_KERNELS="${impl}" GOMAXPROCS=1 "../../${bin}/model.test" \
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
printf 'median of %d interleaved rounds, one core (GOMAXPROCS=1); cpu x: CPU time of generic (and of the next implementation) over this one\n' "${ROUNDS}"
printf '%-36s %-8s %12s %14s %8s %8s\n' benchmark impl "per s" "cpu-ns/op" "cpu x gen" "cpu x next"
for spec in "BenchmarkFineTuneUserSGD users/s" "BenchmarkTrainStepSGD/batch32 samples/s" "BenchmarkTrainStepSGD/batch1024 samples/s"; do
  read -r b unit <<<"${spec}"
  gc="$(median generic "${b}" cpu-ns/op)"
  for ((x = 0; x < ${#impls[@]}; x++)); do
    impl="${impls[x]}"
    sc="$(median "${impl}" "${b}" cpu-ns/op)"
    next="-"
    if ((x + 1 < ${#impls[@]})) && [[ "${impls[x + 1]}" != generic ]]; then
      next="$(ratio "$(median "${impls[x + 1]}" "${b}" cpu-ns/op)" "${sc}")"
    fi
    printf '%-36s %-8s %12s %14s %8s %8s\n' "${b#Benchmark} (${unit})" "${impl}" "$(median "${impl}" "${b}" "${unit}")" "${sc}" "$(ratio "${gc}" "${sc}")" "${next}"
  done
done

echo
echo "kernels (GFLOP per CPU second, one run each; PeakFMA: register-only FMAs):"
(cd trainer/kernels && GOMAXPROCS=1 "../../${bin}/kernels.test" -test.run '^$' -test.bench '^Benchmark(Gemm|PeakFMA)' \
  -test.benchtime 0.3s -test.cpu 1 | awk '/^Benchmark/ { for (k = 3; k < NF; k++) if ($(k+1) == "GFLOP/cpu-s") printf "  %-40s %8s %s\n", $1, $k, $(k+1) }')
echo "model FLOPs: Wide&Deep dim 8 (MLP 40-200-80-1) costs 144480 FLOPs per sample in a training step"
echo "  (forward 2x24080, weight and input gradients 2x that); GFLOP per CPU second = 144480 x batch / (cpu-ns per step)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
