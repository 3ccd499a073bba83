#!/usr/bin/env bash
# Build (and cache) the envtest control-plane binaries, kube-apiserver and etcd,
# from Go modules instead of downloading release tarballs.
#
#   export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
#
# Binaries go to bin/k8s/<K8S_VERSION>/ under the repo root. A binary that is
# already there and reports the wanted version is reused, so running this again
# is fast. Progress goes to stderr; stdout gets only the absolute assets dir.
#
# The pinned versions live in hack/envtest/go.mod (the wrapper module, with a
# committed go.sum). The environment can override them:
#   K8S_VERSION   e.g. 1.37.2 (k8s.io/kubernetes v1.37.2, staging modules v0.37.2)
#   ETCD_VERSION  e.g. 3.7.3  (go.etcd.io/etcd/server/v3 v3.7.3)
# When an override differs from the pinned version, the wrapper module is copied
# to a temporary directory, re-pinned and tidied there (this needs network access
# to the Go module proxy). The hack/envtest files are never modified.
set -euo pipefail

log() { printf '%s\n' "envtest-assets: $*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
wrapper_dir="${repo_root}/hack/envtest"

# Reading the pinned versions straight from go.mod keeps go.mod the single
# source of truth and needs no `go` invocation.
# shellcheck source=lib/k8s-build.sh
source "${repo_root}/hack/lib/k8s-build.sh"
pinned_k8s="$(pinned_version "${wrapper_dir}/go.mod" k8s.io/kubernetes)"
pinned_etcd="$(pinned_version "${wrapper_dir}/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "${pinned_k8s}" || -z "${pinned_etcd}" ]]; then
  log "cannot read pinned versions from ${wrapper_dir}/go.mod"
  exit 1
fi

K8S_VERSION="${K8S_VERSION:-${pinned_k8s}}"
ETCD_VERSION="${ETCD_VERSION:-${pinned_etcd}}"
K8S_VERSION="${K8S_VERSION#v}"
ETCD_VERSION="${ETCD_VERSION#v}"

if [[ ! "${K8S_VERSION}" =~ ^1\.([0-9]+)\.([0-9]+)$ ]]; then
  log "K8S_VERSION must look like 1.37.2, got '${K8S_VERSION}'"
  exit 1
fi
k8s_minor="${BASH_REMATCH[1]}"
k8s_patch="${BASH_REMATCH[2]}"
# Staging modules (k8s.io/api, k8s.io/client-go, ...) are published as v0.X.Y
# for Kubernetes v1.X.Y.
staging_version="v0.${k8s_minor}.${k8s_patch}"
if [[ ! "${ETCD_VERSION}" =~ ^3\.[0-9]+\.[0-9]+$ ]]; then
  log "ETCD_VERSION must look like 3.7.3, got '${ETCD_VERSION}'"
  exit 1
fi

assets_dir="${repo_root}/bin/k8s/${K8S_VERSION}"
apiserver_bin="${assets_dir}/kube-apiserver"
etcd_bin="${assets_dir}/etcd"

# Stand-alone module: do not pick up a go.work from a parent directory.
export GOWORK=off
export CGO_ENABLED=0

need_apiserver=true
need_etcd=true
up_to_date "${apiserver_bin}" "Kubernetes v${K8S_VERSION}" && need_apiserver=false
up_to_date "${etcd_bin}" "etcd Version: ${ETCD_VERSION}" && need_etcd=false

if "${need_apiserver}" || "${need_etcd}"; then
  mkdir -p "${assets_dir}"

  build_dir="${wrapper_dir}"
  tmp_dir=""
  cleanup() { if [[ -n "${tmp_dir}" ]]; then rm -rf "${tmp_dir}"; fi; }
  trap cleanup EXIT

  if [[ "${K8S_VERSION}" != "${pinned_k8s}" || "${ETCD_VERSION}" != "${pinned_etcd}" ]]; then
    log "versions differ from hack/envtest/go.mod (k8s ${pinned_k8s}, etcd ${pinned_etcd}); re-pinning in a temporary module"
    tmp_dir="$(mktemp -d)"
    cp "${wrapper_dir}/tools.go" "${tmp_dir}/"
    printf 'module envtest-assets-override\n\ngo 1.26.0\n' >"${tmp_dir}/go.mod"
    build_dir="${tmp_dir}"
    k8s_gomod="$(cd "${tmp_dir}" && go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" |
      sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    if [[ -z "${k8s_gomod}" || ! -f "${k8s_gomod}" ]]; then
      log "cannot download go.mod of k8s.io/kubernetes v${K8S_VERSION}"
      exit 1
    fi
    # k8s.io/kubernetes requires its staging modules at v0.0.0 (resolved through
    # ./staging/src replaces in its own repo): map each to its released version.
    edit_args=(-require="k8s.io/kubernetes@v${K8S_VERSION}" -require="go.etcd.io/etcd/server/v3@v${ETCD_VERSION}")
    while read -r mod; do
      edit_args+=(-replace="${mod}=${mod}@${staging_version}")
    done < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "${k8s_gomod}")
    (cd "${tmp_dir}" && go mod edit "${edit_args[@]}" && go mod tidy) >&2
  fi

  # Use the release's module timestamp as the build date: reproducible, and
  # close to when the upstream release was cut.
  build_date="$(cd "${build_dir}" && go list -mod=readonly -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
  [[ -n "${build_date}" ]] || build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

  # build NAME PACKAGE OUTPUT LDFLAGS: build into a temporary file next to the
  # output, then rename, so a concurrent or interrupted run never leaves a
  # half-written binary behind.
  build() {
    local name="$1" pkg="$2" out="$3" ldflags="$4" tmp_out start
    tmp_out="${out}.tmp.$$"
    start="${SECONDS}"
    if ! (cd "${build_dir}" && go build -mod=readonly -trimpath -ldflags "${ldflags}" -o "${tmp_out}" "${pkg}"); then
      rm -f "${tmp_out}"
      log "building ${name} failed"
      exit 1
    fi
    mv -f "${tmp_out}" "${out}"
    log "built ${out} in $((SECONDS - start))s"
  }

  if "${need_apiserver}"; then
    log "building kube-apiserver v${K8S_VERSION} (measured cold on 2 cores: 316 s idle, 1658 s at load average 20-29)..."
    ldflags="$(k8s_version_ldflags "${K8S_VERSION}" "${k8s_minor}" "${build_date}")"
    build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "${apiserver_bin}" "${ldflags}"
    if ! up_to_date "${apiserver_bin}" "Kubernetes v${K8S_VERSION}"; then
      log "built kube-apiserver does not report Kubernetes v${K8S_VERSION}"
      exit 1
    fi
  else
    log "kube-apiserver v${K8S_VERSION} already built (cached)"
  fi

  if "${need_etcd}"; then
    log "building etcd v${ETCD_VERSION} (measured cold on 2 cores, after kube-apiserver: 20 s idle, 35 s at load average 20-29)..."
    # etcd's version comes from go.etcd.io/etcd/api/v3/version.Version, a
    # constant; only GitSHA is settable and, as above, unknown here.
    build etcd go.etcd.io/etcd/server/v3 "${etcd_bin}" "-s -w"
    if ! up_to_date "${etcd_bin}" "etcd Version: ${ETCD_VERSION}"; then
      log "built etcd does not report version ${ETCD_VERSION}"
      exit 1
    fi
  else
    log "etcd v${ETCD_VERSION} already built (cached)"
  fi
else
  log "kube-apiserver v${K8S_VERSION} and etcd v${ETCD_VERSION} already built (cached)"
fi

# Record what is in the directory; rewrite only when it changed.
versions_file="${assets_dir}/VERSIONS"
versions="$(
  printf 'kube-apiserver v%s (k8s.io/kubernetes v%s, k8s.io staging modules %s)\n' "${K8S_VERSION}" "${K8S_VERSION}" "${staging_version}"
  printf 'etcd v%s (go.etcd.io/etcd/server/v3 v%s)\n' "${ETCD_VERSION}" "${ETCD_VERSION}"
  printf 'compiler %s (CGO_ENABLED=0, -trimpath)\n' "$(go version "${apiserver_bin}" | awk '{print $2}')"
  printf 'built by hack/envtest-assets.sh from hack/envtest (Go modules)\n'
)"
if [[ ! -f "${versions_file}" || "$(cat "${versions_file}")" != "${versions}" ]]; then
  printf '%s\n' "${versions}" >"${versions_file}"
fi

printf '%s\n' "${assets_dir}"
