#!/usr/bin/env bash
# The demo: a local Kubernetes cluster built from source, the operator's
# images built without Docker, the Helm chart installed, the samples applied,
# and the Cloud / Local / LCFT AUC table printed.
#
#   hack/demo.sh          (make demo)       needs root; ~10 min the first time
#   hack/demo-down.sh     (make demo-down)  removes it all
#
# Steps:
#   1. hack/cluster/up.sh: etcd, kube-apiserver, kube-controller-manager,
#      kube-scheduler, kubelet (Kubernetes 1.35 built from the Go module
#      proxy), Debian's containerd + runc + CNI bridge, and a kwok-simulated
#      arm64 node; kubeconfig in bin/demo/kubeconfig.
#   2. hack/imagebuild/images.sh: multi-arch images of the manager and the
#      trainer; imported into the node's containerd and tagged by digest.
#   3. Storage: a hostPath PersistentVolume (bin/demo/artifacts, owned by
#      65532) bound to the PVC lcft-artifacts in the samples' namespace; the
#      chart's artifactURI is pvc://lcft-artifacts/ so the pretraining Job
#      writes the model there and the cohort Jobs read it.
#   4. helm install of charts/lcft-operator (local images, hostNetwork, the API
#      server at 127.0.0.1 since there is no Service networking).
#   5. kubectl apply -f config/samples/ in namespace lcft-demo (Pod Security
#      "restricted" enforced), wait for every cohort to finish, print tables.
#      The ctr-high cohort is placed on the arm64 pool: its pods go to the
#      kwok node, where nothing runs, so it ends Failed (MissingSummary).
#
# Environment: DEMO_NAMESPACE (lcft-demo), OPERATOR_NAMESPACE (lcft-system),
# DEMO_TIMEOUT seconds (600), HELM (bin/helm-v3.22.0), plus hack/cluster/up.sh's.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
APISERVER_PORT="${APISERVER_PORT:-6443}"
DEMO_NAMESPACE="${DEMO_NAMESPACE:-lcft-demo}"
OPERATOR_NAMESPACE="${OPERATOR_NAMESPACE:-lcft-system}"
DEMO_TIMEOUT="${DEMO_TIMEOUT:-600}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM="${HELM:-${repo_root}/bin/helm-${HELM_VERSION}}"
RELEASE="${RELEASE:-lcft-operator}"
export STATE_DIR RUN_DIR APISERVER_PORT

t0="${SECONDS}"
step() { printf '\n=== [demo %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
log() { printf '[demo %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

step "cluster"
hack/cluster/up.sh
export KUBECONFIG="${STATE_DIR}/kubeconfig"

step "images (hack/imagebuild: static binaries, linux/amd64 + linux/arm64, no Docker)"
hack/imagebuild/images.sh manager trainer
ctr_() { ctr --address "${RUN_DIR}/containerd.sock" -n k8s.io "$@"; }
# import NAME REPO: import the multi-arch archive, then tag it by digest so
# that a rebuilt image gets a new reference (and a rollout) on the next run.
import() {
  local name="$1" repo="$2" digest tag
  digest="$(cat "bin/images/${name}.digest")"
  tag="dev-${digest#sha256:}"
  tag="${tag:0:16}"
  ctr_ images import --all-platforms "bin/images/${name}.oci.tar" >/dev/null
  ctr_ images tag --force "${repo}:dev" "${repo}:${tag}" >/dev/null
  log "imported ${repo}:${tag} (${digest})"
  printf '%s:%s' "${repo}" "${tag}"
}
manager_image="$(import lcft-operator localhost/lcft-operator)"
trainer_image="$(import lcft-trainer localhost/lcft-trainer)"

step "namespaces and artifact storage (hostPath PV + PVC lcft-artifacts)"
artifacts="${STATE_DIR}/artifacts/${DEMO_NAMESPACE}"
mkdir -p "${artifacts}"
chown 65532:65532 "${artifacts}"
chmod 0775 "${artifacts}"
kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: ${OPERATOR_NAMESPACE}
  labels:
    # The manager runs with hostNetwork (no Service networking here).
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: v1
kind: Namespace
metadata:
  name: ${DEMO_NAMESPACE}
  labels:
    # The trainer's pods must pass "restricted".
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: lcft-artifacts-${DEMO_NAMESPACE}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: lcft-local
  hostPath:
    path: ${artifacts}
    type: Directory
  claimRef:
    namespace: ${DEMO_NAMESPACE}
    name: lcft-artifacts
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: lcft-artifacts
  namespace: ${DEMO_NAMESPACE}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: lcft-local
  volumeName: lcft-artifacts-${DEMO_NAMESPACE}
  resources:
    requests: {storage: 5Gi}
EOF

step "helm install ${RELEASE} (charts/lcft-operator)"
if [[ ! -x "${HELM}" ]]; then
  log "building helm ${HELM_VERSION} from the Go module proxy (1.5-3 min)"
  tmp_gobin="$(mktemp -d)"
  GOBIN="${tmp_gobin}" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  mv "${tmp_gobin}/helm" "${HELM}"
  rmdir "${tmp_gobin}"
fi
"${HELM}" upgrade --install "${RELEASE}" charts/lcft-operator \
  --namespace "${OPERATOR_NAMESPACE}" \
  --set image.repository="${manager_image%:*}" \
  --set image.tag="${manager_image##*:}" \
  --set image.pullPolicy=IfNotPresent \
  --set trainer.image="${trainer_image}" \
  --set hostNetwork=true \
  --set kubernetesService.host=127.0.0.1 \
  --set kubernetesService.port="${APISERVER_PORT}" \
  --set artifactURI=pvc://lcft-artifacts/ \
  --set-string 'nodeSelector.lcft\.dev/node=real' \
  --wait --timeout 5m
kubectl -n "${OPERATOR_NAMESPACE}" get pods -o wide

step "samples (kubectl apply -f config/samples/ -n ${DEMO_NAMESPACE})"
kubectl apply -n "${DEMO_NAMESPACE}" -f config/samples/

step "waiting for the runs (timeout ${DEMO_TIMEOUT}s)"
deadline=$((SECONDS + DEMO_TIMEOUT))
last=""
while :; do
  phases="$(kubectl get -n "${DEMO_NAMESPACE}" gm,cpol,ftc --no-headers \
    -o 'custom-columns=NAME:.metadata.name,PHASE:.status.phase' 2>/dev/null | awk '{printf "%s=%s ", $1, $2}')"
  if [[ "${phases}" != "${last}" ]]; then
    log "${phases}"
    last="${phases}"
  fi
  cohorts="$(kubectl get -n "${DEMO_NAMESPACE}" ftc --no-headers -o 'custom-columns=PHASE:.status.phase')"
  if [[ -n "${cohorts}" ]] && ! grep -qvE '^(Succeeded|Failed)$' <<<"${cohorts}"; then
    break
  fi
  if kubectl get -n "${DEMO_NAMESPACE}" gm --no-headers -o 'custom-columns=PHASE:.status.phase' | grep -qx Failed; then
    log "a GlobalModel failed: the cohorts cannot run"
    break
  fi
  if ((SECONDS > deadline)); then
    log "timed out after ${DEMO_TIMEOUT}s; the manager's last errors:"
    kubectl -n "${OPERATOR_NAMESPACE}" logs "deploy/${RELEASE}" --tail 200 2>&1 | grep -i error | tail -5 | cut -c1-400 >&2 || true
    break
  fi
  sleep 5
done

step "kubectl get gm,cpol,ftc -n ${DEMO_NAMESPACE}"
kubectl get -n "${DEMO_NAMESPACE}" gm,cpol,ftc

step "Cloud / Local / LCFT (user-level AUC, weighted by test-set size)"
kubectl get -n "${DEMO_NAMESPACE}" ftc -o 'custom-columns=COHORT:.metadata.name,POOL:.spec.placement.pool,CTR-RANGE:.spec.ctrRange.min,TO:.spec.ctrRange.max,PHASE:.status.phase,USERS:.status.users,CLOUD:.status.cloudAUC,LOCAL:.status.localAUC,LCFT:.status.lcftAUC,LIFT-VS-LOCAL:.status.liftVsLocal,LIFT-VS-CLOUD:.status.liftVsCloud,NODES:.status.shards[*].node,ARCH:.status.shards[*].arch'
failed="$(kubectl get -n "${DEMO_NAMESPACE}" ftc -o go-template='{{range .items}}{{if eq (or .status.phase "") "Failed"}}{{.metadata.name}}{{range .status.conditions}}{{if eq .type "Failed"}}: {{.reason}}: {{.message}}{{end}}{{end}}{{"\n"}}{{end}}{{end}}')"
if [[ -n "${failed}" ]]; then
  printf '\nFailed cohorts:\n%s\n' "${failed}"
fi
printf '\nKUBECONFIG=%s; tear down with hack/demo-down.sh (make demo-down)\n' "${KUBECONFIG}"
