#!/usr/bin/env bash
# Smoke test of the local cluster (hack/cluster/up.sh must have run): an
# Indexed Job of a static Go binary image (hack/imagebuild/hello), with the
# trainer's Pod Security "restricted" settings (uid 65532, read-only root fs,
# no capabilities, RuntimeDefault seccomp), must complete, write termination
# messages, and its logs must be readable with kubectl logs.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
export KUBECONFIG="${STATE_DIR}/kubeconfig"
ns=lcft-smoke
t0="${SECONDS}"
log() { printf '[smoke %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }

"${repo_root}/hack/imagebuild/images.sh" hello
ctr --address "${RUN_DIR}/containerd.sock" -n k8s.io images import --all-platforms "${repo_root}/bin/images/lcft-hello.oci.tar" >/dev/null
log "imported localhost/lcft-hello:dev"

kubectl delete namespace "${ns}" --ignore-not-found --wait=true >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: ${ns}}
spec:
  completionMode: Indexed
  completions: 2
  parallelism: 2
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      nodeSelector: {kubernetes.io/arch: amd64}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: hello
        image: localhost/lcft-hello:dev
        imagePullPolicy: Never
        env: [{name: TERMINATION_LOG, value: /dev/termination-log}]
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {sizeLimit: 64Mi}}]
YAML
log "created Indexed Job ${ns}/hello (2 completions)"
kubectl -n "${ns}" wait --for=condition=Complete job/hello --timeout=120s >/dev/null
log "job complete"
kubectl -n "${ns}" get pods -o 'custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,MESSAGE:.status.containerStatuses[0].state.terminated.message'
for p in $(kubectl -n "${ns}" get pods -o name); do
  out="$(kubectl -n "${ns}" logs "${p}")"
  [[ "${out}" == "hello from"* ]] || { log "unexpected logs of ${p}: ${out}"; exit 1; }
done
log "kubectl logs ok"
kubectl delete namespace "${ns}" --wait=false >/dev/null
log "smoke test passed"
