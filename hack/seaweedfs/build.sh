#!/usr/bin/env bash
# Build (and cache) SeaweedFS's `weed` command, the local cluster's S3 store,
# from the Go module proxy through the wrapper module hack/seaweedfs:
#
#   weed="$(hack/seaweedfs/build.sh)"
#
# The binary goes to bin/weed-v<pseudo-version>; one that is already there and
# runs is reused. A copy is kept in a cache outside the checkout,
# ${LCFT_CACHE_DIR:-~/.cache/lcft-operator}/weed-v<pseudo-version>, so a fresh
# clone (CI) reuses it instead of relinking a 164 MB binary; LCFT_CACHE_DIR=off
# disables that cache. Progress goes to stderr; stdout gets only the binary's
# path. Measured on the 2-core development machine: 497 s with the Go build
# cache already warm from the Kubernetes builds (DESIGN.md reports 23 min fully
# cold under load); with a warm Go build
# cache it is a link of about a minute; from the cache outside the checkout it
# is a hard link or copy.
set -euo pipefail

log() { printf '%s\n' "seaweedfs-build: $*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
wrapper_dir="${repo_root}/hack/seaweedfs"
# shellcheck source=../lib/k8s-build.sh
source "${repo_root}/hack/lib/k8s-build.sh"
version="$(pinned_version "${wrapper_dir}/go.mod" github.com/seaweedfs/seaweedfs)"
if [[ -z "${version}" ]]; then
  log "cannot read the pinned github.com/seaweedfs/seaweedfs version from ${wrapper_dir}/go.mod"
  exit 1
fi
name="weed-v${version}"
out="${repo_root}/bin/${name}"
# shellcheck source=../lib/cache.sh
source "${repo_root}/hack/lib/cache.sh"

runs() { [[ -x "$1" ]] && "$1" version >/dev/null 2>&1; }

if runs "${out}"; then
  log "weed v${version} already built (cached)"
  printf '%s\n' "${out}"
  exit 0
fi
mkdir -p "${repo_root}/bin"
if [[ -n "${cache_dir}" ]] && runs "${cache_dir}/${name}"; then
  link_or_copy "${cache_dir}/${name}" "${out}"
  log "weed v${version} from the cache ${cache_dir}"
  printf '%s\n' "${out}"
  exit 0
fi

export GOWORK=off CGO_ENABLED=0
tmp_out="${out}.tmp.$$"
start="${SECONDS}"
log "building weed v${version} (497 s here with a partly warm Go cache, more when fully cold) ..."
( while sleep 60; do log "  ... still building weed ($((SECONDS - start))s)"; done ) &
tick=$!
rc=0
(cd "${wrapper_dir}" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "${tmp_out}" github.com/seaweedfs/seaweedfs/weed) || rc=$?
kill "${tick}" 2>/dev/null || true
wait "${tick}" 2>/dev/null || true
if [[ "${rc}" -ne 0 ]]; then
  rm -f "${tmp_out}"
  log "building weed failed"
  exit 1
fi
mv -f "${tmp_out}" "${out}"
log "built ${out} in $((SECONDS - start))s"
to_cache "${out}" "${name}"
printf '%s\n' "${out}"
