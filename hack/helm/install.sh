#!/usr/bin/env bash
# Build helm from the Go module proxy (release downloads are not reachable
# here) and install it as one versioned binary:
#
#   hack/helm/install.sh v3.22.0 bin/helm-v3.22.0
#
# A binary already at OUTPUT that reports VERSION is kept, so running this
# again is instant. A cold build takes about 2 to 4 minutes on 2 cores.
#
# Plain `go install helm.sh/helm/v3/cmd/helm@VERSION` leaves out the ldflags of
# helm's release build, and such a helm reports version "v3.22" and, worse,
# assumes Kubernetes 1.20 in `helm lint` and `helm template` (no cluster),
# which fails every chart with kubeVersion >= 1.21. This script sets them as
# helm's Makefile does: the version, and the Kubernetes version taken from
# the k8s.io/client-go that helm's go.mod requires.
set -euo pipefail

log() { printf '%s\n' "helm-install: $*" >&2; }

version="${1:-}"
out="${2:-}"
if [[ ! "${version}" =~ ^v3\.[0-9]+\.[0-9]+$ || -z "${out}" ]]; then
  echo "usage: $0 v3.X.Y OUTPUT   (e.g. $0 v3.22.0 bin/helm-v3.22.0)" >&2
  exit 2
fi

if [[ -x "${out}" ]] && [[ "$("${out}" version --template '{{.Version}}' 2>/dev/null || true)" == "${version}" ]]; then
  log "${out} is helm ${version} (cached)"
  exit 0
fi

export GOWORK=off
export CGO_ENABLED=0

tmp_dir="$(mktemp -d)"
trap 'rm -rf "${tmp_dir}"' EXIT

# helm's own go.mod: which k8s.io/client-go (v0.X.Y is Kubernetes 1.X) it uses.
helm_gomod="$(cd "${tmp_dir}" && go mod download -json "helm.sh/helm/v3@${version}" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "${helm_gomod}" || ! -f "${helm_gomod}" ]]; then
  log "cannot download go.mod of helm.sh/helm/v3 ${version}"
  exit 1
fi
client_go="$(awk '$1 == "k8s.io/client-go" && $2 ~ /^v0\./ { print $2; exit }' "${helm_gomod}")"
if [[ ! "${client_go}" =~ ^v0\.([0-9]+)\. ]]; then
  log "cannot read k8s.io/client-go from ${helm_gomod}"
  exit 1
fi
k8s_minor="${BASH_REMATCH[1]}"

ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=${version}"
ldflags+=" -X helm.sh/helm/v3/internal/version.metadata="
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done

log "building helm ${version} (Kubernetes 1.${k8s_minor} client) from the Go module proxy..."
start="${SECONDS}"
GOBIN="${tmp_dir}/bin" go install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${version}"

# Rename into place from the same directory: no half-written OUTPUT, ever.
mkdir -p "$(dirname "${out}")"
cp "${tmp_dir}/bin/helm" "${out}.tmp.$$"
mv -f "${out}.tmp.$$" "${out}"

got="$("${out}" version --template '{{.Version}}')"
if [[ "${got}" != "${version}" ]]; then
  log "built helm reports ${got}, want ${version}"
  exit 1
fi
log "installed ${out} (${got}) in $((SECONDS - start))s"
