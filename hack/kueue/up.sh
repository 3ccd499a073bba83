#!/usr/bin/env bash
# Install Kueue into the local cluster (hack/cluster/up.sh) from what
# hack/kueue/build.sh made: import its image into the node's containerd,
# apply its CRDs, RBAC, webhooks and Deployment (namespace kueue-system),
# wait until its webhook answers (it makes its own certificate: internal
# cert management), then apply the samples config/samples/kueue/
# (ResourceFlavors amd64 and arm64, the ClusterQueue lcft, the LocalQueue
# lcft in KUEUE_QUEUE_NAMESPACE).
#
#   hack/kueue/up.sh      (hack/e2e.sh runs it after hack/demo.sh)
#
# Environment: STATE_DIR (bin/demo; KUBECONFIG is its kubeconfig), RUN_DIR
# (/run/lcft-cluster), KUEUE_QUEUE_NAMESPACE (lcft-demo), KUEUE_TIMEOUT
# seconds (180), plus hack/kueue/build.sh's.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "${repo_root}"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
KUEUE_QUEUE_NAMESPACE="${KUEUE_QUEUE_NAMESPACE:-lcft-demo}"
KUEUE_TIMEOUT="${KUEUE_TIMEOUT:-180}"
export KUBECONFIG="${KUBECONFIG:-${STATE_DIR}/kubeconfig}"

log() { printf '%s\n' "kueue-up: $*" >&2; }

dir="$(hack/kueue/build.sh)"
ctr --address "${RUN_DIR}/containerd.sock" -n k8s.io images import --all-platforms bin/images/kueue.oci.tar >/dev/null
log "imported localhost/kueue ($(cat bin/images/kueue.digest))"

kubectl apply --server-side --force-conflicts --field-manager=lcft-kueue -f "${dir}/kueue.yaml" >/dev/null
kubectl -n kueue-system rollout status deployment/kueue-controller-manager --timeout "${KUEUE_TIMEOUT}s" >&2

# The webhook answers once Kueue wrote its certificate and the CA bundles: a
# server-side dry run of a ResourceFlavor goes through it.
deadline=$((SECONDS + KUEUE_TIMEOUT))
until kubectl apply --dry-run=server -f config/samples/kueue/resourceflavors.yaml >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then
    log "Kueue's webhook did not answer within ${KUEUE_TIMEOUT}s:"
    kubectl apply --dry-run=server -f config/samples/kueue/resourceflavors.yaml >&2 || true
    kubectl -n kueue-system logs deployment/kueue-controller-manager --tail 50 >&2 || true
    exit 1
  fi
  sleep 2
done
kubectl apply -f config/samples/kueue/resourceflavors.yaml -f config/samples/kueue/clusterqueue.yaml >/dev/null
kubectl apply -n "${KUEUE_QUEUE_NAMESPACE}" -f config/samples/kueue/localqueue.yaml >/dev/null
log "Kueue ${dir##*/kueue-} ready: ResourceFlavors amd64, arm64; ClusterQueue lcft; LocalQueue ${KUEUE_QUEUE_NAMESPACE}/lcft"
