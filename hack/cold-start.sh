#!/usr/bin/env bash
# Measure a cold `make TARGET` as a newcomer meets it: a fresh clone of HEAD
# and an empty HOME, so the Go module cache, the Go build cache and
# ~/.cache/lcft-operator (the cached cluster binaries and weed) all start
# empty. Prints the wall time, the CPU time of every process the make ran
# (user + system), their ratio (2.0 = both cores of a 2-core machine busy
# all along), the load average (sampled every 30 s; the machine is shared) and
# when each build step finished.
#
#   hack/cold-start.sh test             cold `make test`
#   hack/cold-start.sh demo             cold `make demo` (root; then make demo-down)
#   WORK=/tmp/x hack/cold-start.sh ...  keep the clone, HOME and log there
#                                       (default: a new directory under /tmp)
#
# What it cannot make cold: Debian packages already installed (containerd,
# runc, qemu-user-static: `make demo` installs them with apt when missing) and
# the Go toolchain itself.
set -euo pipefail

target="${1:-}"
case "${target}" in
  test | demo) ;;
  *) echo "usage: hack/cold-start.sh test|demo" >&2; exit 2 ;;
esac
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
WORK="${WORK:-$(mktemp -d /tmp/lcft-cold.XXXXXX)}"
mkdir -p "${WORK}"
clone="${WORK}/lcft-operator"
[[ ! -e "${clone}" ]] || { echo "cold-start: ${clone} exists; use a new WORK" >&2; exit 2; }
git clone -q "${repo_root}" "${clone}"
# The shared data beside the checkout, as in CI (the demo's MovieLens cohort).
[[ -e "${repo_root}/../shared" && ! -e "${WORK}/shared" ]] && ln -s "$(cd "${repo_root}/../shared" && pwd -P)" "${WORK}/shared"
home="${WORK}/home"
mkdir -p "${home}"
log="${WORK}/make-${target}.log"
loadlog="${WORK}/load.log"

( while :; do cut -d' ' -f1 /proc/loadavg; sleep 30; done ) >"${loadlog}" &
sampler=$!
trap 'kill "${sampler}" 2>/dev/null || true' EXIT

echo "cold-start: make ${target} in ${clone}, HOME=${home}, log ${log}" >&2
echo "cold-start: $(nproc) CPUs; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start="$(date +%s)"
rc=0
# Every line gets the seconds since the start; /usr/bin/time -f gives the
# CPU time of make and everything it waited for.
(
  cd "${clone}"
  env -u GOCACHE -u GOMODCACHE -u GOPATH -u LCFT_CACHE_DIR -u XDG_CACHE_HOME HOME="${home}" \
    /usr/bin/time -f 'cold-start-time: wall %e s, user %U s, system %S s' make "${target}" 2>&1
) | perl -pe 'BEGIN { $| = 1; $s = time } printf "[+%4ds] ", time - $s' >"${log}" || rc=$?
wall=$(($(date +%s) - start))
if [[ "${target}" == demo ]]; then
  (cd "${clone}" && make demo-down >/dev/null 2>&1) || echo "cold-start: make demo-down failed" >&2
fi

cpu="$(sed -n 's/.*cold-start-time: wall [0-9.]* s, user \([0-9.]*\) s, system \([0-9.]*\) s.*/\1 \2/p' "${log}" | tail -1)"
loads="$(sort -n "${loadlog}" | sed -n '1p;$p' | paste -sd' ')"
echo
echo "== steps (seconds since the start)"
grep -E 'built |ready in|installed .* in |wrote .* in |=== \[demo|^\[\+ *[0-9]+s\] (ok|FAIL|---) ' "${log}" | grep -v ' (cached)' || true
echo
echo "== cold make ${target}: exit ${rc}"
if [[ -n "${cpu}" ]]; then
  read -r user sys <<<"${cpu}"
  awk -v w="${wall}" -v u="${user}" -v s="${sys}" 'BEGIN { printf "wall %d s (%.1f min); CPU %.0f s (user %.0f, system %.0f); CPU/wall %.2f\n", w, w / 60, u + s, u, s, (u + s) / w }'
else
  echo "wall ${wall} s (no CPU time recorded)"
fi
echo "load average (1 min, sampled every 30 s): min ${loads% *}, max ${loads#* }; CPUs: $(nproc)"
echo "log: ${log}"
exit "${rc}"
