#!/usr/bin/env bash
# Print the path of bin/imagebuild, (re)building it first when it is missing
# or any of its sources is newer. Under a lock, so that scripts running at the
# same time (hack/demo.sh's images and hack/e2e.sh's Kueue build) build it once
# and never run a half-written binary.
#
#   tool="$(hack/imagebuild/tool.sh)"
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
tool="${repo_root}/bin/imagebuild"
mkdir -p "${repo_root}/bin"
exec 9>"${tool}.lock"
flock 9
if [[ ! -x "${tool}" ]] || [[ -n "$(find "${repo_root}/hack/imagebuild" -newer "${tool}" \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print -quit)" ]]; then
  printf '%s\n' "imagebuild: building bin/imagebuild" >&2
  (cd "${repo_root}/hack/imagebuild" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath -o "${tool}.tmp.$$" . && mv -f "${tool}.tmp.$$" "${tool}")
fi
printf '%s\n' "${tool}"
