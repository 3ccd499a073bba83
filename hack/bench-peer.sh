#!/usr/bin/env bash
# The trainer against PyTorch on one core: the same models (Wide&Deep with
# 8-wide embeddings and an MLP of 200 and 80 units; LR), the same synthetic
# data and initial weights, the same loops (per-user fine-tuning with SGD,
# batch 32, lr 0.01, one epoch per user; training steps at batch 32 and
# 1024), one thread each, run in interleaved rounds (Go, PyTorch, Go,
# PyTorch, ...). Then the runner on 1 and 2 cores (GOMAXPROCS).
#
#   hack/bench-peer.sh        (make bench-peer)
#   ROUNDS=3 USERS=1000 OUT=bin/bench-peer SKIP_CORES=0 to change;
#   CORES_USERS=6000 CORES_EPOCHS=4 size the 1-vs-2-core runs (several
#   seconds each on one core, so that they measure the scaling)
#
# It installs Debian's python3-torch and libopenblas0-pthread when missing
# and selects OpenBLAS (pthread) as libblas.so.3/liblapack.so.3 (the
# reference BLAS is slower and would flatter the trainer). Prints, per round
# and as medians: users/s and samples/s of both sides, the wall and CPU-time
# ratios, the peak RSS ratio, the load average before each round, the
# fraction of the core's float32 FMA peak at batch 1024, and the 1-to-2-core
# ratios of per-user fine-tuning and pretraining.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS="${ROUNDS:-3}"
USERS="${USERS:-1000}"
OUT="${OUT:-bin/bench-peer}"
PY=/usr/bin/python3 # Debian's, which has python3-torch (not a pyenv shim)
ma="$(uname -m)-linux-gnu"

sudo=""
[[ "$(id -u)" == 0 ]] || sudo=sudo
if ! "${PY}" -c 'import torch, numpy' 2>/dev/null || [[ ! -e "/usr/lib/${ma}/openblas-pthread/libblas.so.3" ]]; then
  echo "installing python3-torch and libopenblas0-pthread"
  apt_install() { ${sudo} apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends python3-torch libopenblas0-pthread >/dev/null; }
  apt_install || { ${sudo} apt-get -o DPkg::Lock::Timeout=300 update >/dev/null && apt_install; }
fi
for lib in libblas.so.3 liblapack.so.3; do
  ${sudo} update-alternatives --set "${lib}-${ma}" "/usr/lib/${ma}/openblas-pthread/${lib}" >/dev/null
done
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

mkdir -p "${OUT}"
rm -f "${OUT}"/round-*.json "${OUT}"/round-*.load "${OUT}/cores.json" "${OUT}/peak.json"
CGO_ENABLED=0 go build -trimpath -o "${OUT}/peer" ./hack/bench/peer
peer="${OUT}/peer"
"${peer}" export -dir "${OUT}" -users "${USERS}"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(getconf _NPROCESSORS_ONLN) CPUs; $(go version | cut -d' ' -f3); torch $("${PY}" -c 'import torch; print(torch.__version__)')"

echo "== cross-check: loss and gradients of one batch of 32 from the same initial weights"
"${peer}" check -dir "${OUT}" -out "${OUT}/check.go.json"
"${PY}" hack/bench/torch_peer.py check "${OUT}" "${OUT}/check.go.json"

echo "== float32 FMA peak of one core"
GOMAXPROCS=1 "${peer}" peak -out "${OUT}/peak.json"

for r in $(seq 1 "${ROUNDS}"); do
  cut -d' ' -f1-3 /proc/loadavg >"${OUT}/round-${r}.load"
  echo "== round ${r}/${ROUNDS} (load before: $(cat "${OUT}/round-${r}.load")): Go, then PyTorch"
  GOMAXPROCS=1 "${peer}" run -dir "${OUT}" -out "${OUT}/round-${r}.go.json"
  "${PY}" hack/bench/torch_peer.py run "${OUT}" "${OUT}/round-${r}.torch.json"
done

if [[ "${SKIP_CORES:-0}" != 1 ]]; then
  echo "== the runner on 1 and 2 cores (pretraining, then per-user fine-tuning; 1, 2, 1, 2)"
  "${peer}" cores -dir "${OUT}" -out "${OUT}/cores.json" -cores-users "${CORES_USERS:-6000}" -cores-epochs "${CORES_EPOCHS:-4}"
fi
"${peer}" report -dir "${OUT}"
