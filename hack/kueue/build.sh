#!/usr/bin/env bash
# Build Kueue from the Go module proxy (sigs.k8s.io/kueue, no release
# download, no Docker, no registry) for the local cluster:
#
#   dir="$(hack/kueue/build.sh)"     (stdout: the absolute output dir)
#
# Writes, under bin/kueue-<KUEUE_VERSION>/:
#   manager      the Kueue manager (cmd/kueue), CGO off, -trimpath
#   kueue.yaml   its CRDs, RBAC, webhooks and Deployment, rendered with
#                `kubectl kustomize` from the module's config/components
#                (crd, rbac, manager, internalcert, webhook) plus
#                overlay.yaml below: internal cert management (Kueue makes
#                its webhook certificate and injects the CA bundle), no
#                visibility API server (the local apiserver has no
#                aggregation layer), only the batch/job integration, and a
#                hostNetwork pod (there is no Service networking; the
#                apiserver reaches the webhook through the Service's
#                endpoints, hack/cluster/up.sh --enable-aggregator-routing)
#                on ports the operator's manager does not use.
# and the image bin/images/kueue.oci.tar (hack/imagebuild, linux/amd64 only,
# localhost/kueue:<KUEUE_VERSION>), imported by hack/kueue/up.sh.
#
# The manager binary is kept in ${LCFT_CACHE_DIR:-~/.cache/lcft-operator}/
# kueue-<KUEUE_VERSION>/ (as hack/cluster/build.sh keeps the cluster's), so a
# fresh clone links it instead of rebuilding; LCFT_CACHE_DIR=off disables it.
#
# Environment: KUEUE_VERSION (v0.17.0), KUEUE_HEALTH_PORT (18081),
# KUEUE_METRICS_PORT (18443), KUEUE_WEBHOOK_PORT (19443), APISERVER_PORT (6443).
set -euo pipefail

log() { printf '%s\n' "kueue-build: $*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
KUEUE_VERSION="${KUEUE_VERSION:-v0.17.0}"
KUEUE_HEALTH_PORT="${KUEUE_HEALTH_PORT:-18081}"
KUEUE_METRICS_PORT="${KUEUE_METRICS_PORT:-18443}"
KUEUE_WEBHOOK_PORT="${KUEUE_WEBHOOK_PORT:-19443}"
APISERVER_PORT="${APISERVER_PORT:-6443}"
IMAGES_DIR="${IMAGES_DIR:-${repo_root}/bin/images}"
out="${repo_root}/bin/kueue-${KUEUE_VERSION}"
# shellcheck source=../lib/cache.sh
source "${repo_root}/hack/lib/cache.sh"
mkdir -p "${out}" "${IMAGES_DIR}"

export GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# The module's source (read-only in the module cache): manifests come from it.
src="$(go mod download -json "sigs.k8s.io/kueue@${KUEUE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "${src}" || ! -d "${src}/config/components" ]]; then
  log "cannot find config/components in the sigs.k8s.io/kueue@${KUEUE_VERSION} module"
  exit 1
fi

# --- the manager ---------------------------------------------------------------
reports_version() { [[ -x "$1" ]] && go version -m "$1" 2>/dev/null | grep -q "sigs.k8s.io/kueue[[:space:]]*${KUEUE_VERSION}"; }
cached="${cache_dir:+${cache_dir}/kueue-${KUEUE_VERSION}/manager}"
if reports_version "${out}/manager"; then
  log "manager ${KUEUE_VERSION} already built"
elif [[ -n "${cached}" ]] && reports_version "${cached}"; then
  link_or_copy "${cached}" "${out}/manager"
  log "manager ${KUEUE_VERSION} from the cache ${cache_dir}"
else
  start="${SECONDS}"
  log "building the Kueue manager ${KUEUE_VERSION} (sigs.k8s.io/kueue/cmd/kueue) ..."
  gobin="$(mktemp -d)"
  GOBIN="${gobin}" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=${KUEUE_VERSION}" \
    "sigs.k8s.io/kueue/cmd/kueue@${KUEUE_VERSION}"
  mv -f "${gobin}/kueue" "${out}/manager"
  rmdir "${gobin}" 2>/dev/null || true
  log "built ${out}/manager in $((SECONDS - start))s"
  to_cache "${out}/manager" "kueue-${KUEUE_VERSION}/manager"
fi

# --- the manifests ---------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cp -r "${src}/config" "${work}/config"
chmod -R u+w "${work}"
cat >"${work}/config/components/manager/controller_manager_config.yaml" <<EOF
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
health:
  healthProbeBindAddress: :${KUEUE_HEALTH_PORT}
metrics:
  bindAddress: :${KUEUE_METRICS_PORT}
webhook:
  port: ${KUEUE_WEBHOOK_PORT}
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: true
integrations:
  frameworks:
  - batch/job
EOF
overlay="${work}/config/lcft"
mkdir -p "${overlay}"
cp "${src}/config/default/manager_config_patch.yaml" "${overlay}/"
cat >"${overlay}/kustomization.yaml" <<EOF
namespace: kueue-system
namePrefix: kueue-
labels:
- pairs:
    app.kubernetes.io/name: kueue
  includeTemplates: true
- pairs:
    control-plane: controller-manager
  includeSelectors: true
resources:
- ../components/crd
- ../components/rbac
- ../components/manager
- ../components/internalcert
- ../components/webhook
patches:
- path: manager_config_patch.yaml
- path: overlay.yaml
- path: webhooks.yaml
images:
# components/webhook renames the manager's image "controller" to the
# project's staging image; both become the one hack/imagebuild made.
- name: controller
  newName: localhost/kueue
  newTag: ${KUEUE_VERSION}
- name: us-central1-docker.pkg.dev/k8s-staging-images/kueue/kueue
  newName: localhost/kueue
  newTag: ${KUEUE_VERSION}
EOF
cat >"${overlay}/overlay.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: system
spec:
  template:
    spec:
      hostNetwork: true
      # The amd64 node: the image is linux/amd64 only and imported there
      # (the emulated arm64 node has its own containerd).
      nodeSelector:
        lcft.dev/node: real
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
      containers:
      - name: manager
        imagePullPolicy: Never
        # No visibility API server: no aggregation layer here, and it
        # writes its certificate to a read-only root.
        args:
        - --config=/controller_manager_config.yaml
        - --zap-log-level=2
        - --feature-gates=VisibilityOnDemand=false
        env:
        - name: KUBERNETES_SERVICE_HOST
          value: 127.0.0.1
        - name: KUBERNETES_SERVICE_PORT
          value: "${APISERVER_PORT}"
        ports:
        - containerPort: ${KUEUE_WEBHOOK_PORT}
          name: webhook-server
          protocol: TCP
        livenessProbe:
          httpGet:
            path: /healthz
            port: ${KUEUE_HEALTH_PORT}
        readinessProbe:
          httpGet:
            path: /readyz
            port: ${KUEUE_HEALTH_PORT}
        resources:
          requests:
            cpu: 100m
            memory: 256Mi
        volumeMounts:
        - mountPath: /tmp/k8s-webhook-server/serving-certs
          name: cert
          readOnly: true
      volumes:
      - name: cert
        secret:
          defaultMode: 420
          secretName: kueue-webhook-server-cert
---
apiVersion: v1
kind: Service
metadata:
  name: webhook-service
  namespace: system
spec:
  ports:
  - port: 443
    protocol: TCP
    targetPort: ${KUEUE_WEBHOOK_PORT}
EOF
# Only batch/job is integrated: the webhooks on every pod, Deployment and
# StatefulSet of the cluster (failurePolicy Fail) go, so that a Kueue that is
# down cannot stop the operator's or the trainer's pods from being created.
{
  for kind in Mutating Validating; do
    name="$(tr 'A-Z' 'a-z' <<<"${kind}")-webhook-configuration"
    printf -- '---\napiVersion: admissionregistration.k8s.io/v1\nkind: %sWebhookConfiguration\nmetadata:\n  name: %s\nwebhooks:\n' "${kind}" "${name}"
    for w in pod deployment statefulset; do
      printf -- '- name: %s%s.kb.io\n  $patch: delete\n' "$(cut -c1 <<<"${name}")" "${w}"
    done
  done
} >"${overlay}/webhooks.yaml"
kubectl kustomize "${overlay}" >"${out}/kueue.yaml.tmp"
mv -f "${out}/kueue.yaml.tmp" "${out}/kueue.yaml"
log "rendered ${out}/kueue.yaml ($(grep -c '^kind:' "${out}/kueue.yaml") objects)"

# --- the image -------------------------------------------------------------------
tool="$("${repo_root}/hack/imagebuild/tool.sh")"
if [[ ! -f "${IMAGES_DIR}/kueue.oci.tar" || "${out}/manager" -nt "${IMAGES_DIR}/kueue.oci.tar" ]]; then
  "${tool}" -bin "linux/amd64=${out}/manager" -entry manager -ref "localhost/kueue:${KUEUE_VERSION}" \
    -label "org.opencontainers.image.title=kueue" -label "org.opencontainers.image.version=${KUEUE_VERSION}" \
    -oci-archive "${IMAGES_DIR}/kueue.oci.tar" >"${IMAGES_DIR}/kueue.digest"
  log "wrote ${IMAGES_DIR}/kueue.oci.tar ($(cat "${IMAGES_DIR}/kueue.digest"))"
fi
printf '%s\n' "${out}"
