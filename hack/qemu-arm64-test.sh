#!/usr/bin/env bash
# Run the trainer's unit tests as linux/arm64 binaries under QEMU user-mode
# emulation: the numeric code (float32 GEMM, AUC, gradient checks) is checked
# on the architecture the arm64 pool runs, on an amd64 machine.
#
#   hack/qemu-arm64-test.sh [PACKAGES...]     (default: ./trainer/...)
#   TEST_FLAGS="-test.short -test.run Foo" hack/qemu-arm64-test.sh
#
# Installs Debian's qemu-user-static when qemu-aarch64-static is missing (root).
# Each package with tests is compiled with `GOARCH=arm64 go test -c` into
# bin/test-arm64/ and its test binary is run by qemu-aarch64-static in the
# package's directory (as `go test` would). Exit status: non-zero when any
# package fails to build or to pass.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"
out_dir="${repo_root}/bin/test-arm64"
TEST_FLAGS="${TEST_FLAGS:-}"
TEST_TIMEOUT="${TEST_TIMEOUT:-20m}"
QEMU="${QEMU:-qemu-aarch64-static}"

log() { printf '%s\n' "qemu-arm64-test: $*" >&2; }

if ! command -v "${QEMU}" >/dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    log "${QEMU} not found; install Debian's qemu-user-static (as root)"
    exit 1
  fi
  log "installing qemu-user-static (Debian)"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >&2 || exit 1
fi
log "$("${QEMU}" --version | head -1)"

pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./trainer/...)
mapfile -t list < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "${pkgs[@]}")
if ((${#list[@]} == 0)); then
  log "no test packages in ${pkgs[*]}"
  exit 1
fi

mkdir -p "${out_dir}"
failed=()
declare -A results
start_all="${SECONDS}"
for entry in "${list[@]}"; do
  pkg="${entry%% *}"
  dir="${entry#* }"
  bin="${out_dir}/$(echo "${pkg}" | tr '/.' '__').test"
  start="${SECONDS}"
  if ! CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go test -c -o "${bin}" "${pkg}"; then
    results["${pkg}"]="BUILD FAILED"
    failed+=("${pkg}")
    continue
  fi
  file "${bin}" 2>/dev/null | grep -q 'ARM aarch64' || { command -v file >/dev/null && log "warning: ${bin} is not an aarch64 binary"; }
  log "running ${pkg} (arm64 under ${QEMU})"
  # shellcheck disable=SC2086
  if (cd "${dir}" && "${QEMU}" "${bin}" -test.timeout "${TEST_TIMEOUT}" ${TEST_FLAGS}); then
    results["${pkg}"]="ok    $((SECONDS - start))s"
  else
    results["${pkg}"]="FAIL  $((SECONDS - start))s"
    failed+=("${pkg}")
  fi
done

printf '\n%-55s %s\n' "package (linux/arm64 under ${QEMU})" "result"
for entry in "${list[@]}"; do
  pkg="${entry%% *}"
  printf '%-55s %s\n' "${pkg}" "${results[${pkg}]}"
done
printf '%d package(s), %d failed, %ds\n' "${#list[@]}" "${#failed[@]}" "$((SECONDS - start_all))"
((${#failed[@]} == 0))
