#!/usr/bin/env bash
# The demo: a local Kubernetes cluster built from source, the operator's
# images built without Docker, the Helm chart installed, the samples applied,
# and the Cloud / Local / LCFT AUC table printed.
#
#   hack/demo.sh          (make demo)       needs root; cold, the builds take most of it
#                         (measured on a loaded 2-core machine on 2 December 2026:
#                         cluster kube-apiserver 3509 s, etcd 1869 s at load 13-29;
#                         see the README, "Cold start")
#   hack/demo-down.sh     (make demo-down)  removes it all
#
# Steps:
#   1. hack/cluster/up.sh: etcd, kube-apiserver, kube-controller-manager,
#      kube-scheduler, kubelet (Kubernetes 1.35 built from the Go module
#      proxy), Debian's containerd + runc + CNI bridge, an emulated arm64
#      node (a linux/arm64 kubelet under qemu-user with its own containerd),
#      and SeaweedFS's S3 gateway at http://<node IP>:8333 with
#      authentication and the buckets lcft-data and lcft-artifacts
#      (hack/seaweedfs/up.sh); kubeconfig in bin/demo/kubeconfig.
#   2. hack/imagebuild/images.sh (built in the background during step 1): the
#      manager for linux/amd64 and the multi-arch trainer; imported into the
#      node's containerd and tagged by digest; the trainer's linux/arm64
#      variant into the arm64 node's containerd.
#   3. Object store: the synthetic dataset the samples name is generated and
#      uploaded with `lcft-trainer gen --out s3://lcft-data/...` (admin key);
#      the Secret lcft-s3-credentials in the samples' namespace gets the
#      trainer's key pair, region and endpoint (from
#      bin/demo/seaweedfs/trainer.env; never printed). The samples reference
#      it through spec.podTemplate.envFrom.
#   4. helm install of charts/lcft-operator (local images, hostNetwork, the API
#      server at 127.0.0.1 since there is no Service networking, artifactURI
#      s3://lcft-artifacts: every run writes under it).
#   5. kubectl apply -f config/samples/ in namespace lcft-demo (Pod Security
#      "restricted" enforced), wait for every cohort and policy to finish,
#      print tables and the objects the runs wrote to the store.
#      The ctr-high cohort is placed on the arm64 pool: its pods run the arm64
#      trainer on the emulated arm64 node. The same cohort on the amd64 pool
#      (ctr-high-amd64, made here from the sample) gives the comparison.
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
# A real MovieLens copy (ratings.csv, movies.csv) beside the checkout: uploaded
# to s3://lcft-data/movielens-small/ with config/samples/movielens/ applied.
# DEMO_MOVIELENS=0 leaves it out (hack/e2e.sh does, unless E2E_MOVIELENS=1).
MOVIELENS_DIR="${MOVIELENS_DIR:-${repo_root}/../shared/data/movielens-small}"
DEMO_MOVIELENS="${DEMO_MOVIELENS:-1}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM="${HELM:-${repo_root}/bin/helm-${HELM_VERSION}}"
RELEASE="${RELEASE:-lcft-operator}"
export STATE_DIR RUN_DIR APISERVER_PORT

t0="${SECONDS}"
step() { printf '\n=== [demo %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
log() { printf '[demo %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The images need only Go: they build while the cluster's binaries do (the two
# share no compiled package), so a cold demo waits for the longer of the two,
# not their sum. The manager runs on the amd64 node only: one variant.
step "images, in the background (hack/imagebuild: static binaries, no Docker; log in bin/images/build.log)"
mkdir -p bin/images
MANAGER_PLATFORMS="linux/$(go env GOARCH)" hack/imagebuild/images.sh manager trainer >bin/images/build.log 2>&1 &
images_pid=$!
trap 'kill "${images_pid}" 2>/dev/null || true' EXIT

step "cluster"
hack/cluster/up.sh
export KUBECONFIG="${STATE_DIR}/kubeconfig"

step "images: waiting for the build"
if ! wait "${images_pid}"; then
  cat bin/images/build.log >&2
  die "building the images failed (bin/images/build.log)"
fi
trap - EXIT
cat bin/images/build.log >&2
ctr_() { ctr --address "${RUN_DIR}/containerd.sock" -n k8s.io "$@"; }
ctr_arm64() { ctr --address "${RUN_DIR}/containerd-arm64.sock" -n k8s.io "$@"; }
# import NAME REPO: import the multi-arch archive, then tag it by digest so
# that a rebuilt image gets a new reference (and a rollout) on the next run.
# The arm64 node's containerd gets the linux/arm64 variant under the same
# reference (only its manifest: the name resolves there to arm64).
import() {
  local name="$1" repo="$2" digest tag arm="bin/images/$1.linux-arm64.docker.tar"
  digest="$(cat "bin/images/${name}.digest")"
  tag="dev-${digest#sha256:}"
  tag="${tag:0:16}"
  ctr_ images import --all-platforms "bin/images/${name}.oci.tar" >/dev/null
  ctr_ images tag --force "${repo}:dev" "${repo}:${tag}" >/dev/null
  if [[ -S "${RUN_DIR}/containerd-arm64.sock" && -s "${arm}" ]]; then
    ctr_arm64 images import --platform linux/arm64 "${arm}" >/dev/null
    ctr_arm64 images tag --force "${repo}:dev" "${repo}:${tag}" >/dev/null
  fi
  log "imported ${repo}:${tag} (${digest})"
  printf '%s:%s' "${repo}" "${tag}"
}
manager_image="$(import lcft-operator localhost/lcft-operator)"
trainer_image="$(import lcft-trainer localhost/lcft-trainer)"

step "namespaces"
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
    # The trainer's pods must pass "restricted" (hack/e2e.sh checks it is enforced).
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
EOF

step "object store: dataset to s3://lcft-data, Secret lcft-s3-credentials"
s3_dir="${STATE_DIR}/seaweedfs"
s3_endpoint="$(sed -n 's/^AWS_ENDPOINT_URL_S3=//p' "${s3_dir}/trainer.env")"
CGO_ENABLED=0 go build -trimpath -o bin/lcft-trainer ./trainer/cmd/lcft-trainer # the image's flags: a link
# The dataset the samples name (their comments give the same generator flags).
dataset_uri=s3://lcft-data/synthetic/drift-0.8-seed-7.csv
(
  set -a
  . "${s3_dir}/admin.env"
  set +a
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
  bin/lcft-trainer gen --users 3000 --items 1000 --categories 18 --samples-per-user 60 \
    --global-ctr 0.45 --drift 0.8 --data-seed 7 --out "${dataset_uri}"
) >&2
movielens=0
if [[ "${DEMO_MOVIELENS}" == 1 && -s "${MOVIELENS_DIR}/ratings.csv" && -s "${MOVIELENS_DIR}/movies.csv" ]]; then
  (
    set -a
    . "${s3_dir}/admin.env"
    set +a
    for f in ratings.csv movies.csv; do
      printf 'user = "%s:%s"\n' "${AWS_ACCESS_KEY_ID}" "${AWS_SECRET_ACCESS_KEY}" |
        curl -sSf --max-time 120 --aws-sigv4 "aws:amz:${AWS_REGION}:s3" -K - \
          -T "${MOVIELENS_DIR}/${f}" "${s3_endpoint}/lcft-data/movielens-small/${f}" >/dev/null
    done
  ) && movielens=1
  ((movielens)) && log "uploaded ${MOVIELENS_DIR}/{ratings,movies}.csv to s3://lcft-data/movielens-small/" ||
    die "uploading ${MOVIELENS_DIR} to s3://lcft-data/movielens-small/ failed"
else
  log "no MovieLens copy at ${MOVIELENS_DIR} (or DEMO_MOVIELENS=0): the MovieLens cohort is left out"
fi
# The trainer's identity (Read, Write, List; no Admin) for the pods. The values
# go from the file to the API server without being printed; server-side apply
# keeps no last-applied-configuration annotation (which would copy the data).
kubectl -n "${DEMO_NAMESPACE}" create secret generic lcft-s3-credentials \
  --from-env-file="${s3_dir}/trainer.env" --dry-run=client -o yaml |
  kubectl apply --server-side --field-manager=lcft-demo -f - >/dev/null
log "Secret ${DEMO_NAMESPACE}/lcft-s3-credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3=${s3_endpoint}"

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
  --set artifactURI=s3://lcft-artifacts \
  --set-string 'nodeSelector.lcft\.dev/node=real' \
  --wait --timeout 5m
kubectl -n "${OPERATOR_NAMESPACE}" get pods -o wide

step "samples (kubectl apply -f config/samples/ -n ${DEMO_NAMESPACE}), and ctr-high again on the amd64 pool"
kubectl apply -n "${DEMO_NAMESPACE}" -f config/samples/
sed -e 's/^  name: ctr-high$/  name: ctr-high-amd64/' -e 's/^    pool: arm64$/    pool: amd64/' \
  config/samples/finetune_v1alpha1_finetunecohort_high.yaml | kubectl apply -n "${DEMO_NAMESPACE}" -f -
if ((movielens)); then
  kubectl apply -n "${DEMO_NAMESPACE}" -f config/samples/movielens/
fi

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
  policies="$(kubectl get -n "${DEMO_NAMESPACE}" cpol --no-headers -o 'custom-columns=PHASE:.status.phase')"
  if [[ -n "${cohorts}" ]] && ! grep -qvE '^(Succeeded|Failed)$' <<<"${cohorts}" &&
    ! grep -qvE '^(Ready|Failed)$' <<<"${policies}"; then
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

step "Cloud / Local / LCFT (user-level AUC, weighted by test-set size; 95% intervals over users, exact across shards)"
kubectl get -n "${DEMO_NAMESPACE}" ftc -o 'custom-columns=COHORT:.metadata.name,POOL:.spec.placement.pool,CTR-RANGE:.spec.ctrRange.min,TO:.spec.ctrRange.max,PHASE:.status.phase,USERS:.status.users,CLOUD:.status.cloudAUC,LOCAL:.status.localAUC,LCFT:.status.lcftAUC,LIFT-VS-LOCAL:.status.liftVsLocal,95%-CI:.status.liftVsLocalInterval.range,SIGNIFICANT:.status.liftVsLocalInterval.significant,LIFT-VS-CLOUD:.status.liftVsCloud,95%-CI-CLOUD:.status.liftVsCloudInterval.range,NODES:.status.shards[*].node,ARCH:.status.shards[*].arch'

step "the same cohort on the emulated arm64 node and on the amd64 node (ARCH: the trainer's GOARCH per shard)"
kubectl get -n "${DEMO_NAMESPACE}" ftc ctr-high ctr-high-amd64 -o 'custom-columns=COHORT:.metadata.name,POOL:.spec.placement.pool,ARCH:.status.shards[*].arch,NODES:.status.shards[*].node,PHASE:.status.phase,USERS:.status.users,CLOUD:.status.cloudAUC,LOCAL:.status.localAUC,LCFT:.status.lcftAUC,LIFT-VS-LOCAL:.status.liftVsLocal,95%-CI:.status.liftVsLocalInterval.range' || true

step "Hard search hard-search: per local-CTR group, the choice and its validation lifts (on the model's held-out rows)"
kubectl get -n "${DEMO_NAMESPACE}" cpol hard-search -o go-template='holdout {{.status.holdoutFraction}}, seeds {{.status.seeds}}, {{.status.shardsSucceeded}} shard(s)
{{printf "%-14s %-9s %-20s %-10s %-32s %-32s %s" "CTR-RANGE" "STRATEGY" "LABELS" "USERS" "LIFT-VS-AUTO [95% CI]" "LIFT-VS-LOCAL [95% CI]" "REASON"}}
{{range .status.groups}}{{printf "%-14s" (printf "[%s, %s)" .ctrRange.min .ctrRange.max)}} {{printf "%-9s" .strategy}} {{printf "%-20s" (printf "(%s, %s)" (or .positiveLabel "-") (or .negativeLabel "-"))}} {{printf "%-10s" (printf "%v/%v" (or .scoredUsers 0) (or .users 0))}} {{with .liftVsAuto}}{{printf "%-32s" (printf "%s %s" .mean .range)}}{{else}}{{printf "%-32s" "-"}}{{end}} {{with .liftVsLocal}}{{printf "%-32s" (printf "%s %s" .mean .range)}}{{else}}{{printf "%-32s" "-"}}{{end}} {{.reason}}
{{end}}' 2>/dev/null || log "no searched table (the search did not finish)"
failed="$(kubectl get -n "${DEMO_NAMESPACE}" ftc -o go-template='{{range .items}}{{if eq (or .status.phase "") "Failed"}}{{.metadata.name}}{{range .status.conditions}}{{if eq .type "Failed"}}: {{.reason}}: {{.message}}{{end}}{{end}}{{"\n"}}{{end}}{{end}}')"
if [[ -n "${failed}" ]]; then
  printf '\nFailed cohorts:\n%s\n' "${failed}"
fi
failed="$(kubectl get -n "${DEMO_NAMESPACE}" gm,cpol -o go-template='{{range .items}}{{if eq (or .status.phase "") "Failed"}}{{.kind}}/{{.metadata.name}}{{range .status.conditions}}{{if eq .type "Failed"}}: {{.reason}}: {{.message}}{{end}}{{end}}{{"\n"}}{{end}}{{end}}')"
if [[ -n "${failed}" ]]; then
  printf '\nFailed models and policies:\n%s\n' "${failed}"
fi

step "objects in s3://lcft-artifacts (${s3_endpoint})"
(
  set -a
  . "${s3_dir}/admin.env"
  set +a
  printf 'user = "%s:%s"\n' "${AWS_ACCESS_KEY_ID}" "${AWS_SECRET_ACCESS_KEY}" |
    curl -sS --max-time 10 --aws-sigv4 "aws:amz:${AWS_REGION}:s3" -K - \
      "${s3_endpoint}/lcft-artifacts?list-type=2&prefix=${DEMO_NAMESPACE}%2F" |
    sed 's#</Contents>#&\n#g' | sed -n 's#.*<Key>\([^<]*\)</Key>.*<Size>\([0-9]*\)</Size>.*#\2 \1#p' |
    awk '{ n++; b += $1 }
      $2 ~ /\.(png|svg)$/ { pics++; next }
      $2 ~ /\/part-[0-9]+\.parquet$/ { parts++; next }
      { printf "  %9d  s3://lcft-artifacts/%s\n", $1, $2 }
      END { printf "  %d objects, %d bytes (not listed: %d pictures, %d data partitions)\n", n, b, pics, parts }'
) || true

printf '\nKUBECONFIG=%s; object store %s (keys in %s/admin.env); tear down with hack/demo-down.sh (make demo-down)\n' \
  "${KUBECONFIG}" "${s3_endpoint}" "${s3_dir}"
