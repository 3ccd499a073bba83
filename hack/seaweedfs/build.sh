#!/usr/bin/env bash
# Build (and cache) SeaweedFS's `weed` command, the local cluster's S3 store,
# from the Go module proxy through the wrapper module hack/seaweedfs:
#
#   weed="$(hack/seaweedfs/build.sh)"
#
# The binary goes to bin/weed-<pseudo-version>; one that is already there and
# runs is reused. Progress goes to stderr; stdout gets only the binary's path.
# Cold, the build takes about 20 minutes on 2 cores (a 230 MB binary); with a
# warm Go build cache it is a link of about a minute.
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
out="${repo_root}/bin/weed-v${version}"
if [[ -x "${out}" ]] && "${out}" version >/dev/null 2>&1; then
  log "weed v${version} already built (cached)"
  printf '%s\n' "${out}"
  exit 0
fi
mkdir -p "${repo_root}/bin"
export GOWORK=off CGO_ENABLED=0
tmp_out="${out}.tmp.$$"
start="${SECONDS}"
log "building weed v${version} (about 20 minutes cold on 2 cores) ..."
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
printf '%s\n' "${out}"
