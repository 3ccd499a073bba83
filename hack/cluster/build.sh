#!/usr/bin/env bash
# Build (and cache) the local cluster's binaries from Go modules, instead of
# downloading release tarballs:
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
#     from the wrapper module hack/cluster/k8s (k8s.io/kubernetes v1.35.x with
#     its staging modules replaced by v0.35.x; etcd as Kubernetes pins it)
#   kubelet-arm64 (the kubelet for linux/arm64; the emulated arm64 node runs
#                  it under qemu-user)
#
#   bindir="$(hack/cluster/build.sh)"                      # all of them
#   KUBEBUILDER_ASSETS="$(hack/cluster/build.sh etcd kube-apiserver)"
#                                   # only those (hack/envtest-assets.sh: envtest
#                                   # runs the cluster's own apiserver and etcd, so
#                                   # one build serves both)
#
# Binaries go to bin/k8s/<K8S_VERSION>/.
# A binary that is already there and reports the wanted version is reused.
# Copies are kept outside the checkout, in
# ${LCFT_CACHE_DIR:-~/.cache/lcft-operator}/k8s/<K8S_VERSION>/, so a fresh
# clone (CI) links them instead of
# rebuilding; LCFT_CACHE_DIR=off disables that cache.
# Progress goes to stderr (a line every 30 s while a build runs); stdout gets
# only the absolute binaries dir.
#
# Why 1.35: Debian's containerd is 1.6, and Kubernetes 1.35 is the last minor
# that supports containerd 1.x; the kubelet must not be newer than the
# apiserver, so the whole local cluster runs 1.35. envtest runs the same
# kube-apiserver and etcd (hack/envtest-assets.sh), so they are built once.
set -euo pipefail

log() { printf '%s\n' "cluster-build: $*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
wrapper_dir="${repo_root}/hack/cluster/k8s"

# shellcheck source=../lib/k8s-build.sh
source "${repo_root}/hack/lib/k8s-build.sh"
K8S_VERSION="$(pinned_version "${wrapper_dir}/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(pinned_version "${wrapper_dir}/go.mod" go.etcd.io/etcd/server/v3)"
if [[ ! "${K8S_VERSION}" =~ ^1\.([0-9]+)\.([0-9]+)$ ]]; then
  log "cannot read the pinned k8s.io/kubernetes version from ${wrapper_dir}/go.mod"
  exit 1
fi
k8s_minor="${BASH_REMATCH[1]}"

bindir="${repo_root}/bin/k8s/${K8S_VERSION}"
mkdir -p "${bindir}"
# shellcheck source=../lib/cache.sh
source "${repo_root}/hack/lib/cache.sh"

export GOWORK=off
export CGO_ENABLED=0

# with_ticker NAME CMD...: run CMD, printing a progress line every 30 s.
with_ticker() {
  local name="$1" start="${SECONDS}" tick rc=0
  shift
  ( while sleep 30; do log "  ... still building ${name} ($((SECONDS - start))s)"; done ) &
  tick=$!
  "$@" || rc=$?
  kill "${tick}" 2>/dev/null || true
  wait "${tick}" 2>/dev/null || true
  return "${rc}"
}

build_date=""
ldflags_k8s() {
  if [[ -z "${build_date}" ]]; then
    build_date="$(cd "${wrapper_dir}" && go list -mod=readonly -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
    [[ -n "${build_date}" ]] || build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  fi
  k8s_version_ldflags "${K8S_VERSION}" "${k8s_minor}" "${build_date}"
}

# Components: NAME PACKAGE GOARCH. The host's components compile in one
# `go build` (packages they share compile once, and the linker of one overlaps
# the compiler of another); the arm64 kubelet, which shares no compiled package
# with them, builds at the same time in a second one.
host_arch="$(go env GOARCH)"
components=(
  "etcd go.etcd.io/etcd/server/v3 ${host_arch}"
  "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver ${host_arch}"
  "kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager ${host_arch}"
  "kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler ${host_arch}"
  "kubelet k8s.io/kubernetes/cmd/kubelet ${host_arch}"
  "kubelet-arm64 k8s.io/kubernetes/cmd/kubelet arm64"
)
# want_of NAME: the string its --version must contain.
want_of() {
  case "$1" in
    etcd) printf 'etcd Version: %s' "${ETCD_VERSION}" ;;
    *) printf 'Kubernetes v%s' "${K8S_VERSION}" ;;
  esac
}
# runner_of GOARCH: what runs a binary of GOARCH here (qemu-user for another).
runner_of() {
  [[ "$1" == "${host_arch}" ]] && return 0
  [[ "$1" == arm64 ]] || { log "no runner for GOARCH=$1"; return 1; }
  command -v qemu-aarch64-static >/dev/null || { log "qemu-aarch64-static not found (Debian's qemu-user-static): needed to check kubelet-arm64"; return 1; }
  printf 'qemu-aarch64-static'
}

# compile GOARCH OUTDIR LABEL PACKAGE...: one `go build -o OUTDIR/` (binaries
# are named after the package's last non-version element: etcd's is "server").
compile() {
  local goarch="$1" outdir="$2" label="$3"
  shift 3
  with_ticker "${label}" env GOARCH="${goarch}" bash -c 'cd "$1" && go build -mod=readonly -trimpath -ldflags "$2" -o "$3/" "${@:4}"' _ \
    "${wrapper_dir}" "$(ldflags_k8s)" "${outdir}" "$@"
}

total_start="${SECONDS}"
names="$*"
# wanted NAME: NAME is among the script's arguments, or there are none.
wanted() { [[ -z "${names}" || " ${names} " == *" $1 "* ]]; }
for n in ${names}; do
  [[ " ${components[*]} " == *" ${n} "* ]] || { log "unknown component '${n}' (etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubelet-arm64)"; exit 2; }
done
ldflags_k8s >/dev/null # sets build_date once, before the builds fork

declare -A todo_names=() todo_pkgs=() # GOARCH -> what is still to compile
for c in "${components[@]}"; do
  read -r name pkg goarch <<<"${c}"
  wanted "${name}" || continue
  [[ "${name}" == kubelet-arm64 && "${host_arch}" == arm64 ]] && continue # linked from the host's kubelet below
  runner="$(runner_of "${goarch}")" || exit 1
  want="$(want_of "${name}")"
  if up_to_date "${bindir}/${name}" "${want}" ${runner}; then
    log "${name} (${want}) already built (cached)"
  elif [[ -n "${cache_dir}" ]] && up_to_date "${cache_dir}/k8s/${K8S_VERSION}/${name}" "${want}" ${runner}; then
    link_or_copy "${cache_dir}/k8s/${K8S_VERSION}/${name}" "${bindir}/${name}"
    log "${name} (${want}) from the cache ${cache_dir}"
  else
    todo_names[${goarch}]+="${name} "
    todo_pkgs[${goarch}]+="${pkg} "
  fi
done

work="$(mktemp -d "${bindir}/.build.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
pids=()
for goarch in "${!todo_names[@]}"; do
  log "building ${todo_names[${goarch}]}for ${goarch} ..."
  mkdir -p "${work}/${goarch}"
  # shellcheck disable=SC2086 # package paths have no spaces
  compile "${goarch}" "${work}/${goarch}" "${todo_names[${goarch}]% }" ${todo_pkgs[${goarch}]} &
  pids+=("$!:${goarch}")
done
failed=0
for pg in "${pids[@]}"; do
  goarch="${pg#*:}"
  if ! wait "${pg%%:*}"; then
    log "building ${todo_names[${goarch}]}for ${goarch} failed"
    failed=1
    continue
  fi
  runner="$(runner_of "${goarch}")" || exit 1
  read -r -a ns <<<"${todo_names[${goarch}]}"
  read -r -a ps <<<"${todo_pkgs[${goarch}]}"
  for i in "${!ns[@]}"; do
    built="${ps[i]##*/}"
    [[ "${built}" =~ ^v[0-9]+$ ]] && built="$(basename "$(dirname "${ps[i]}")")"
    want="$(want_of "${ns[i]}")"
    if ! up_to_date "${work}/${goarch}/${built}" "${want}" ${runner}; then
      log "built ${ns[i]} does not report '${want}'"
      failed=1
      continue
    fi
    mv -f "${work}/${goarch}/${built}" "${bindir}/${ns[i]}"
    to_cache "${bindir}/${ns[i]}" "k8s/${K8S_VERSION}/${ns[i]}"
  done
  log "built ${todo_names[${goarch}]}for ${goarch} in $((SECONDS - total_start))s"
done
((failed == 0)) || exit 1
if wanted kubelet-arm64 && [[ "${host_arch}" == arm64 ]]; then
  link_or_copy "${bindir}/kubelet" "${bindir}/kubelet-arm64"
fi

if [[ -n "${names}" ]]; then
  log "${names} ready in $((SECONDS - total_start))s"
  printf '%s\n' "${bindir}"
  exit 0
fi
versions_file="${bindir}/VERSIONS"
versions="$(
  printf 'etcd v%s (go.etcd.io/etcd/server/v3 v%s)\n' "${ETCD_VERSION}" "${ETCD_VERSION}"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubelet-arm64; do
    printf '%s v%s (k8s.io/kubernetes v%s, k8s.io staging modules v0.%s.%s)\n' "${c}" "${K8S_VERSION}" "${K8S_VERSION}" "${k8s_minor}" "${K8S_VERSION##*.}"
  done
  printf 'compiler %s (CGO_ENABLED=0, -trimpath)\n' "$(go version "${bindir}/kubelet" | awk '{print $2}')"
  printf 'built by hack/cluster/build.sh from hack/cluster/k8s (Go modules)\n'
)"
if [[ ! -f "${versions_file}" || "$(cat "${versions_file}")" != "${versions}" ]]; then
  printf '%s\n' "${versions}" >"${versions_file}"
fi
log "binaries ready in $((SECONDS - total_start))s"
printf '%s\n' "${bindir}"
