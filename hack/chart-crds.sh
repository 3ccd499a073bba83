#!/usr/bin/env bash
# Keep the Helm chart's generated inputs identical to their one source of
# truth, the controller-gen output under config/:
#
#   config/crd/bases/*.yaml  ->  charts/lcft-operator/crds/          (Helm installs them)
#   config/rbac/role.yaml    ->  charts/lcft-operator/files/manager-role.yaml
#                                (templates/clusterrole.yaml takes its rules)
#
#   hack/chart-crds.sh sync    copy them (run after `make manifests`)
#   hack/chart-crds.sh check   exit 1 with a diff when a copy differs, is
#                              missing, or is extra (CI)
#
# Copies are byte for byte, so `check` is a plain diff.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"

crd_src="config/crd/bases"
crd_dst="charts/lcft-operator/crds"
role_src="config/rbac/role.yaml"
role_dst="charts/lcft-operator/files/manager-role.yaml"

usage() { echo "usage: $0 sync|check" >&2; exit 2; }
[[ $# -eq 1 ]] || usage

shopt -s nullglob
srcs=("${crd_src}"/*)
if [[ ${#srcs[@]} -eq 0 ]]; then
  echo "chart-crds: no CRDs in ${crd_src}; run 'make manifests'" >&2
  exit 1
fi
[[ -f "${role_src}" ]] || { echo "chart-crds: ${role_src} is missing; run 'make manifests'" >&2; exit 1; }

case "$1" in
  sync)
    mkdir -p "${crd_dst}" "$(dirname "${role_dst}")"
    # Drop copies whose source is gone (a removed or renamed kind).
    for f in "${crd_dst}"/*; do
      [[ -f "${crd_src}/$(basename "$f")" ]] || { rm -f -- "$f"; echo "chart-crds: removed $f"; }
    done
    for f in "${srcs[@]}"; do
      cmp -s "$f" "${crd_dst}/$(basename "$f")" || { cp -- "$f" "${crd_dst}/"; echo "chart-crds: updated ${crd_dst}/$(basename "$f")"; }
    done
    cmp -s "${role_src}" "${role_dst}" || { cp -- "${role_src}" "${role_dst}"; echo "chart-crds: updated ${role_dst}"; }
    ;;
  check)
    status=0
    # -r also reports files that exist on one side only.
    diff -ru "${crd_src}" "${crd_dst}" || status=1
    diff -u "${role_src}" "${role_dst}" || status=1
    if [[ ${status} -ne 0 ]]; then
      echo "chart-crds: the chart's copies differ from config/ (above); run 'hack/chart-crds.sh sync' and commit" >&2
      exit 1
    fi
    echo "chart-crds: charts/lcft-operator matches config/crd/bases and config/rbac/role.yaml"
    ;;
  *) usage ;;
esac
