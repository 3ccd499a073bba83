# Used by hack/cluster/build.sh (and through it hack/envtest-assets.sh), which build
# Kubernetes components from Go modules. Source it; it defines functions only.

# pinned_version GO_MOD MODULE: the version (without "v") that GO_MOD requires,
# from a line of a require block or a one-line `require MODULE VERSION`.
pinned_version() {
  awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { v = $(i + 1); sub(/^v/, "", v); print v; exit } }' "$1"
}

# up_to_date BINARY EXPECTED_SUBSTRING [RUNNER]: the binary exists, runs
# (through RUNNER, such as qemu-aarch64-static, when given), and its
# --version output mentions the wanted version.
up_to_date() {
  local bin="$1" want="$2" runner="${3:-}" out
  [[ -x "${bin}" ]] || return 1
  out="$(${runner} "${bin}" --version 2>&1)" || return 1
  [[ "${out}" == *"${want}"* ]]
}

# k8s_version_ldflags VERSION MINOR BUILD_DATE: the variables Kubernetes'
# hack/lib/version.sh sets, in both version packages, so a binary built from
# the module proxy reports its real version (Helm rejects v0.0.0). gitCommit
# stays unset: the module proxy does not expose the commit hash.
k8s_version_ldflags() {
  local f="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X ${pkg}.gitVersion=v$1 -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=$2"
    f+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=$3"
  done
  printf '%s' "${f}"
}
