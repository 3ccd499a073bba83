#!/usr/bin/env bash
# End-to-end test on a real local cluster: hack/demo.sh's flow, then checks.
#
#   hack/e2e.sh            (make e2e)   exit 0 when every check passes
#   E2E_KEEP=1 hack/e2e.sh              keep the cluster afterwards
#
# Checks:
#   - the object store refuses anonymous requests; the GlobalModel is Ready,
#     its model is an object in s3://lcft-artifacts, and the three
#     CorrectionPolicies (Auto, an explicit Hard table, a Hard search) are Ready;
#   - the GlobalModel held out 0.2 of each user's training rows; the Hard
#     search ran 2 shards and every group says its choice (Hard with labels
#     and BeatsAuto, or Auto with the reason) with a LCFT-Local interval;
#   - ctr-low, ctr-middle, ctr-high (pool arm64) and ctr-high-amd64 (the same
#     cohort on pool amd64) are Succeeded with users > 0 and Cloud, Local and
#     LCFT AUCs in (0, 1], a 95% interval of LCFT-Local and its significance;
#     ctr-high's pods ran on the emulated arm64 node and every shard reports
#     arch arm64 (the trainer's GOARCH), the others' on the amd64 node with
#     arch amd64; ctr-high has the same users on both architectures;
#   - one DCCL round (config/samples/finetune_v1alpha1_dccl_round.yaml): the
#     GlobalModel distilled from two cohorts' models is Ready with its Cloud
#     AUC against its predecessor, overall and on the long tail, with 95%
#     intervals, and the second-round cohort fine-tuned from it Succeeded;
#   - `kubectl logs` works through the kubelet (manager and a trainer pod);
#   - `kubectl lcft report ctr-low` (table and JSON) reads the cohort's report
#     from S3, and `kubectl lcft why ctr-high` shows its conditions and pods;
#   - a cohort whose Secret is missing waits (Waiting, reason SecretNotFound,
#     naming the Secret), and runs to Succeeded once the Secret exists;
#   - a cohort whose Secret has a wrong secret key ends Failed at once with the
#     store's error (SignatureDoesNotMatch) in its Failed condition, after
#     exactly one pod (exit 2, podFailurePolicy: no retries);
#   - Kueue, built from the Go module proxy and installed with its webhooks
#     (hack/kueue/up.sh), admits three queued one-shard cohorts one at a time
#     under a one-pod quota; the others wait as Queued; all three Succeed with
#     Admitted and flavor amd64 (hack/kueue/e2e-case.sh);
#   - no secret key appears in ConfigMaps, statuses, events or the manager's log.
# On failure, diagnostics (objects, events, logs) are printed.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
DEMO_NAMESPACE="${DEMO_NAMESPACE:-lcft-demo}"
OPERATOR_NAMESPACE="${OPERATOR_NAMESPACE:-lcft-system}"
NODE_NAME="${NODE_NAME:-lcft-node}"
ARM_NODE_NAME="${ARM_NODE_NAME:-lcft-arm64}"
# The runs take seconds to a few minutes once the manager is up (the arm64
# cohort runs under qemu-user); do not wait 10 minutes to fail.
DEMO_TIMEOUT="${DEMO_TIMEOUT:-480}"
# The MovieLens cohort needs data from outside the project: only on request.
DEMO_MOVIELENS="${E2E_MOVIELENS:-0}"
export STATE_DIR DEMO_NAMESPACE OPERATOR_NAMESPACE NODE_NAME ARM_NODE_NAME DEMO_TIMEOUT DEMO_MOVIELENS
export KUBECONFIG="${STATE_DIR}/kubeconfig"

t0="${SECONDS}"
failures=0
pass() { printf '  PASS  %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }

teardown() {
  if [[ "${E2E_KEEP:-0}" == 1 ]]; then
    printf 'E2E_KEEP=1: cluster kept (KUBECONFIG=%s; hack/demo-down.sh removes it)\n' "${KUBECONFIG}"
  else
    hack/cluster/down.sh || true
  fi
}
trap teardown EXIT

# A stale cluster from an earlier run would make results ambiguous.
hack/cluster/down.sh >/dev/null 2>&1 || true

# Kueue's manager and manifests (hack/kueue/build.sh, cached after the first
# time) build while the demo's cluster does: they share no compiled package.
mkdir -p bin
hack/kueue/build.sh >/dev/null 2>bin/kueue-build.log &
kueue_build_pid=$!

if ! hack/demo.sh; then
  fail "hack/demo.sh exited non-zero"
fi

k() { kubectl -n "${DEMO_NAMESPACE}" "$@"; }
jp() { k get "$1" -o "jsonpath=$2" 2>/dev/null; }
# in_unit X: X is a decimal in (0, 1].
in_unit() { awk -v x="$1" 'BEGIN { exit !(x ~ /^[0-9.eE+-]+$/ && x + 0 > 0 && x + 0 <= 1) }'; }

printf '\n=== e2e checks\n'

s3_dir="${STATE_DIR}/seaweedfs"
s3_var() { sed -n "s/^$2=//p" "${s3_dir}/$1.env"; }
s3_endpoint="$(s3_var trainer AWS_ENDPOINT_URL_S3)"
# s3_admin ARGS...: curl with the store's admin key (given on stdin, never on a command line).
s3_admin() {
  printf 'user = "%s:%s"\n' "$(s3_var admin AWS_ACCESS_KEY_ID)" "$(s3_var admin AWS_SECRET_ACCESS_KEY)" |
    curl -sS --max-time 10 --aws-sigv4 "aws:amz:$(s3_var admin AWS_REGION):s3" -K - "$@"
}
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${s3_endpoint}/lcft-artifacts?list-type=2")"
[[ "${code}" == 403 ]] && pass "object store ${s3_endpoint} refuses anonymous requests (HTTP 403)" || fail "anonymous ListObjects on ${s3_endpoint}: HTTP ${code}, want 403"

phase="$(jp gm/widedeep-synthetic '{.status.phase}')"
[[ "${phase}" == Ready ]] && pass "GlobalModel widedeep-synthetic Ready" || fail "GlobalModel widedeep-synthetic phase '${phase}', want Ready"
model_uri="$(jp gm/widedeep-synthetic '{.status.artifactURI}')"
if [[ "${model_uri}" == s3://lcft-artifacts/* ]]; then
  code="$(s3_admin -o /dev/null -w '%{http_code}' -I "${s3_endpoint}/${model_uri#s3://}")"
  [[ "${code}" == 200 ]] && pass "model ${model_uri} is in the object store" || fail "HEAD ${model_uri}: HTTP ${code}, want 200"
else
  fail "GlobalModel artifactURI '${model_uri}', want s3://lcft-artifacts/..."
fi
for p in auto hard-table hard-search; do
  phase="$(jp "cpol/${p}" '{.status.phase}')"
  [[ "${phase}" == Ready ]] && pass "CorrectionPolicy ${p} Ready" || fail "CorrectionPolicy ${p} phase '${phase}', want Ready"
done
holdout="$(jp gm/widedeep-synthetic '{.status.holdoutFraction}')"
[[ "${holdout}" == 0.2 ]] && pass "GlobalModel widedeep-synthetic held out 0.2 of each user's training rows" || fail "GlobalModel holdoutFraction '${holdout}', want 0.2"
# Every searched group says what it chose (Hard with labels, or Auto) and why.
groups="$(jp cpol/hard-search '{range .status.groups[*]}{.strategy}/{.positiveLabel}/{.reason}/{.liftVsLocal.range}{"\n"}{end}')"
if [[ -n "${groups}" ]] && awk -F/ '!(($1 == "Hard" && $2 != "" && $3 == "BeatsAuto") || ($1 == "Auto" && $2 == "" && $3 != "" && $3 != "BeatsAuto")) || $4 == "" { bad = 1 } END { exit bad }' <<<"${groups}"; then
  pass "hard-search groups: $(tr '\n' ' ' <<<"${groups}")"
else
  fail "hard-search groups without a consistent choice: '${groups}'"
fi
[[ "$(jp cpol/hard-search '{.status.shardsSucceeded}')" == 2 ]] && pass "hard-search ran 2 shards" || fail "hard-search shardsSucceeded '$(jp cpol/hard-search '{.status.shardsSucceeded}')', want 2"

# job_pods COHORT: "pod node" lines of the cohort's current Job.
job_pods() {
  local job
  job="$(jp "ftc/$1" '{.status.jobName}')"
  [[ -n "${job}" ]] || return 0
  k get pods -l "batch.kubernetes.io/job-name=${job}" --no-headers -o 'custom-columns=N:.metadata.name,NODE:.spec.nodeName'
}

# arch_of COHORT: the distinct archs its shards reported.
arch_of() { jp "ftc/$1" '{range .status.shards[*]}{.arch}{"\n"}{end}' | sort -u | tr '\n' ' '; }
for c in ctr-low ctr-middle ctr-high ctr-high-amd64; do
  want_node="${NODE_NAME}" want_arch=amd64
  [[ "${c}" == ctr-high ]] && want_node="${ARM_NODE_NAME}" want_arch=arm64
  phase="$(jp "ftc/${c}" '{.status.phase}')"
  if [[ "${phase}" != Succeeded ]]; then
    fail "cohort ${c} phase '${phase}', want Succeeded ($(jp "ftc/${c}" '{.status.conditions[?(@.type=="Failed")].message}'))"
    continue
  fi
  pass "cohort ${c} Succeeded"
  users="$(jp "ftc/${c}" '{.status.users}')"
  [[ "${users:-0}" -gt 0 ]] && pass "cohort ${c} users=${users}" || fail "cohort ${c} users '${users}', want > 0"
  for f in cloudAUC localAUC lcftAUC; do
    v="$(jp "ftc/${c}" "{.status.${f}}")"
    in_unit "${v}" && pass "cohort ${c} ${f}=${v}" || fail "cohort ${c} ${f} '${v}', want a decimal in (0, 1]"
  done
  ci="$(jp "ftc/${c}" '{.status.liftVsLocalInterval.range} {.status.liftVsLocalInterval.significant}')"
  [[ "${ci}" =~ ^\[-?[0-9.]+,\ -?[0-9.]+\]\ (true|false)$ ]] && pass "cohort ${c} LCFT-Local 95% CI and significance: ${ci}" || fail "cohort ${c} LCFT-Local interval '${ci}', want '[low, high] true|false'"
  nodes="$(job_pods "${c}" | awk '{print $2}' | sort -u | tr '\n' ' ')"
  [[ "${nodes}" == "${want_node} " ]] && pass "cohort ${c} pods ran on ${want_node}" || fail "cohort ${c} pods on '${nodes}', want ${want_node}"
  arch="$(arch_of "${c}")"
  [[ "${arch}" == "${want_arch} " ]] && pass "cohort ${c} shards report arch ${want_arch}" || fail "cohort ${c} shards report arch '${arch}', want ${want_arch}"
done
[[ "$(kubectl get node "${ARM_NODE_NAME}" -o 'jsonpath={.metadata.labels.kubernetes\.io/arch}')" == arm64 ]] &&
  pass "node ${ARM_NODE_NAME} is labelled kubernetes.io/arch=arm64 (its kubelet's GOARCH)" || fail "node ${ARM_NODE_NAME} arch label"
a_users="$(jp ftc/ctr-high '{.status.users}')" b_users="$(jp ftc/ctr-high-amd64 '{.status.users}')"
if [[ -n "${a_users}" && "${a_users}" == "${b_users}" ]]; then
  pass "ctr-high: the same ${a_users} users on arm64 and amd64; LCFT AUC $(jp ftc/ctr-high '{.status.lcftAUC}') (arm64) vs $(jp ftc/ctr-high-amd64 '{.status.lcftAUC}') (amd64)"
else
  fail "ctr-high users on arm64 '${a_users}' vs amd64 '${b_users}'"
fi

# The trainer pods ran in a namespace that enforces Pod Security "restricted":
# the label is there, and the API server refuses a pod that breaks it.
[[ "$(kubectl get namespace "${DEMO_NAMESPACE}" -o 'jsonpath={.metadata.labels.pod-security\.kubernetes\.io/enforce}')" == restricted ]] &&
  pass "namespace ${DEMO_NAMESPACE} is labelled pod-security.kubernetes.io/enforce=restricted" ||
  fail "namespace ${DEMO_NAMESPACE} does not enforce Pod Security restricted"
psa_out="$(k run psa-probe --image=busybox --restart=Never --dry-run=server --privileged 2>&1 || true)"
[[ "${psa_out}" == *"violates PodSecurity"* ]] && pass "Pod Security admission refuses a privileged pod in ${DEMO_NAMESPACE}" ||
  fail "a privileged pod was not refused in ${DEMO_NAMESPACE}: ${psa_out}"

mgr_logs="$(kubectl -n "${OPERATOR_NAMESPACE}" logs deploy/lcft-operator --tail 5 2>&1)"
[[ -n "${mgr_logs}" && "${mgr_logs}" != *"error:"* ]] && pass "kubectl logs of the manager" || fail "kubectl logs of the manager: ${mgr_logs}"
trainer_pod="$(job_pods ctr-low | awk 'NR == 1 {print $1}')"
if [[ -n "${trainer_pod}" ]]; then
  out="$(k logs "${trainer_pod}" 2>&1)"
  [[ "${out}" != *"error:"* ]] && pass "kubectl logs of trainer pod ${trainer_pod}" || fail "kubectl logs ${trainer_pod}: ${out}"
fi

report="$(jp ftc/ctr-low '{.status.reportURI}')"
[[ "${report}" == s3://lcft-artifacts/* ]] && pass "cohort ctr-low reports under ${report}" || fail "cohort ctr-low reportURI '${report}', want s3://lcft-artifacts/..."

# --- kubectl lcft: a succeeded cohort's report from S3, why a cohort failed -----
printf '\n=== kubectl lcft\n'
if CGO_ENABLED=0 go build -o bin/kubectl-lcft ./cmd/kubectl-lcft; then
  # lcft FILE ARGS...: the plugin as kubectl runs it, with the trainer's S3
  # credentials in the environment (as a user would export them); output in FILE.
  lcft() {
    local file="$1"
    shift
    (
      set -a; . "${s3_dir}/trainer.env"; set +a
      PATH="${repo_root}/bin:${PATH}" kubectl lcft -n "${DEMO_NAMESPACE}" "$@"
    ) >"${file}" 2>&1
  }
  out="${STATE_DIR}/lcft-report-ctr-low.txt"
  if lcft "${out}" report ctr-low && grep -q '^MODEL .*LCFT-LOCAL \[95% CI\]' "${out}" && grep -q '^Lift of LCFT over Local' "${out}"; then
    pass "kubectl lcft report ctr-low: Cloud / Local / LCFT with intervals and the lift per local-CTR bucket"
  else
    fail "kubectl lcft report ctr-low: $(tail -5 "${out}")"
  fi
  out="${STATE_DIR}/lcft-report-ctr-low.json"
  users="$(lcft "${out}" report ctr-low -o json && sed -n 's/^ *"users": \([0-9][0-9]*\),$/\1/p' "${out}" | head -1)"
  [[ "${users:-0}" -gt 0 ]] && pass "kubectl lcft report ctr-low -o json: ${users} users" || fail "kubectl lcft report ctr-low -o json: users '${users}': $(tail -5 "${out}")"
  out="${STATE_DIR}/lcft-why-ctr-high.txt"
  if lcft "${out}" why ctr-high && grep -q 'Succeeded' "${out}" && grep -q '^POD ' "${out}"; then
    pass "kubectl lcft why ctr-high: its conditions and the Job's pods"
  else
    fail "kubectl lcft why ctr-high: $(tail -5 "${out}")"
  fi
else
  fail "building bin/kubectl-lcft"
fi

# --- the Pooled cohort's group model, scored with predict ------------------------
printf '\n=== deployable group model\n'
c=ctr-low-pooled
phase="$(jp "ftc/${c}" '{.status.phase}')"
group_uri="$(jp "ftc/${c}" '{.status.model.uri}')"
group_digest="$(jp "ftc/${c}" '{.status.model.digest}')"
if [[ "${phase}" == Succeeded && "${group_uri}" == s3://lcft-artifacts/* && "${group_digest}" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  pass "cohort ${c} Succeeded; status.model ${group_uri} (${group_digest:0:19}...)"
else
  fail "cohort ${c} phase '${phase}', status.model uri '${group_uri}' digest '${group_digest}', want Succeeded with an s3:// model and its sha256"
fi
if [[ -n "${group_uri}" ]]; then
  scores="${STATE_DIR}/group-model-scores.csv"
  out="$(
    set -a; . "${s3_dir}/trainer.env"; set +a
    bin/lcft-trainer predict --model "${group_uri}" --digest "${group_digest}" \
      --data s3://lcft-data/synthetic/drift-0.8-seed-7.csv --out "${scores}" 2>&1
  )" && rc=0 || rc=$?
  rows="$(($(wc -l <"${scores}" 2>/dev/null || echo 1) - 1))"
  bad="$(awk -F, 'NR > 1 && !($4 > 0 && $4 < 1) { n++ } END { print n + 0 }' "${scores}" 2>/dev/null || echo 1)"
  if [[ "${rc}" == 0 && "${rows}" -gt 0 && "${bad}" == 0 ]]; then
    pass "lcft-trainer predict scored ${rows} rows with the group model (scores in (0, 1), digest checked)"
  else
    fail "lcft-trainer predict with the group model: exit ${rc}, ${rows} rows, ${bad} scores outside (0, 1): $(tail -3 <<<"${out}")"
  fi
fi

# --- one DCCL round: cohorts' models distilled into a new GlobalModel -----------
printf '\n=== DCCL round (MoMoDistill)\n'
gm=widedeep-synthetic-r2
phase="$(jp "gm/${gm}" '{.status.phase}')"
[[ "${phase}" == Ready ]] && pass "GlobalModel ${gm} (distilled from ctr-low-pooled and ctr-all-deltas) Ready" ||
  fail "GlobalModel ${gm} phase '${phase}', want Ready ($(jp "gm/${gm}" '{.status.conditions[?(@.type=="Failed")].message}'))"
taught="$(jp "gm/${gm}" '{.status.distillation.taughtUsers}')"
[[ "${taught:-0}" -gt 0 ]] && pass "GlobalModel ${gm} taught ${taught} users from the cohorts' models" || fail "GlobalModel ${gm} taughtUsers '${taught}', want > 0"
for part in overall longTail; do
  v="$(jp "gm/${gm}" "{.status.distillation.${part}.delta} {.status.distillation.${part}.range} {.status.distillation.${part}.significant} {.status.distillation.${part}.users}")"
  if [[ "${v}" =~ ^[-+]?[0-9.]+\ \[-?[0-9.]+,\ -?[0-9.]+\]\ (true|false)\ [1-9][0-9]*$ ]]; then
    pass "GlobalModel ${gm} Cloud AUC against its predecessor, ${part}: ${v% *} (${v##* } users)"
  else
    fail "GlobalModel ${gm} status.distillation.${part} '${v}', want 'delta [low, high] true|false users'"
  fi
done
c=ctr-low-round-two
phase="$(jp "ftc/${c}" '{.status.phase}')"
[[ "${phase}" == Succeeded ]] && pass "cohort ${c} (second round, from ${gm}) Succeeded: LCFT-Local $(jp "ftc/${c}" '{.status.liftVsLocal} {.status.liftVsLocalInterval.range}')" ||
  fail "cohort ${c} phase '${phase}', want Succeeded ($(jp "ftc/${c}" '{.status.conditions[?(@.type=="Failed")].message}'))"

# --- credentials: a missing Secret, then wrong keys ------------------------------
# cohort NAME SECRET SHARDS: ctr-low's sample renamed, reading SECRET, with SHARDS shards.
cohort() {
  sed -e "s/^  name: ctr-low\$/  name: $1/" -e "s/name: lcft-s3-credentials/name: $2/" -e "s/^  shards: 2\$/  shards: $3/" \
    config/samples/finetune_v1alpha1_finetunecohort_low.yaml | k apply -f - >/dev/null
}
# wait_jp OBJ JSONPATH REGEX SECONDS: poll until the value matches; prints it.
wait_jp() {
  local v="" i
  for ((i = 0; i < $4; i++)); do
    v="$(jp "$1" "$2")"
    [[ "${v}" =~ $3 ]] && break
    sleep 1
  done
  printf '%s' "${v}"
}
secret_copy() { # NAME [sed expression]: a copy of lcft-s3-credentials
  k create secret generic "$1" --from-env-file=<(sed -e "${2:-}" "${s3_dir}/trainer.env") --dry-run=client -o yaml |
    k apply --server-side --field-manager=lcft-e2e -f - >/dev/null
}

printf '\n=== credentials\n'
k delete secret lcft-s3-late --ignore-not-found >/dev/null
cohort ctr-missing-secret lcft-s3-late 1
reason="$(wait_jp ftc/ctr-missing-secret '{.status.conditions[?(@.type=="Waiting")].reason}' '^SecretNotFound$' 60)"
msg="$(jp ftc/ctr-missing-secret '{.status.conditions[?(@.type=="Waiting")].message}')"
if [[ "${reason}" == SecretNotFound && "${msg}" == *lcft-s3-late* ]]; then
  pass "cohort ctr-missing-secret waits: SecretNotFound: ${msg}"
else
  fail "cohort ctr-missing-secret Waiting reason '${reason}' message '${msg}', want SecretNotFound naming lcft-s3-late"
fi
[[ -z "$(jp ftc/ctr-missing-secret '{.status.jobName}')" ]] && pass "cohort ctr-missing-secret has no Job while it waits" ||
  fail "cohort ctr-missing-secret made a Job without its Secret"
secret_copy lcft-s3-late
phase="$(wait_jp ftc/ctr-missing-secret '{.status.phase}' '^(Succeeded|Failed)$' 120)"
[[ "${phase}" == Succeeded ]] && pass "cohort ctr-missing-secret Succeeded once the Secret exists" ||
  fail "cohort ctr-missing-secret phase '${phase}' after creating its Secret, want Succeeded ($(jp ftc/ctr-missing-secret '{.status.conditions[?(@.type=="Failed")].message}'))"

secret_copy lcft-s3-wrong-key 's/^AWS_SECRET_ACCESS_KEY=.*/AWS_SECRET_ACCESS_KEY=not-the-secret-key-of-this-identity-0000/'
start="${SECONDS}"
cohort ctr-wrong-key lcft-s3-wrong-key 1
phase="$(wait_jp ftc/ctr-wrong-key '{.status.phase}' '^(Succeeded|Failed)$' 120)"
took=$((SECONDS - start))
msg="$(jp ftc/ctr-wrong-key '{.status.conditions[?(@.type=="Failed")].message}')"
if [[ "${phase}" == Failed && ( "${msg}" == *SignatureDoesNotMatch* || "${msg}" == *InvalidAccessKeyId* ) ]]; then
  pass "cohort ctr-wrong-key Failed in ${took}s with the store's error: $(cut -c1-300 <<<"${msg}")"
else
  fail "cohort ctr-wrong-key phase '${phase}' message '${msg}', want Failed with SignatureDoesNotMatch"
fi
npods="$(job_pods ctr-wrong-key | wc -l)"
[[ "${npods}" == 1 ]] && pass "cohort ctr-wrong-key ran exactly one pod (no retries)" || fail "cohort ctr-wrong-key ran ${npods} pod(s), want 1"

# --- Kueue: quota, Queued, Admitted (hack/kueue/e2e-case.sh) ---------------------
if ! wait "${kueue_build_pid}"; then
  cat bin/kueue-build.log >&2
  fail "hack/kueue/build.sh failed (bin/kueue-build.log)"
fi
# shellcheck source=kueue/e2e-case.sh
source hack/kueue/e2e-case.sh

# No secret key in what the operator writes or logs.
leaks=0
for key in "$(s3_var trainer AWS_SECRET_ACCESS_KEY)" "$(s3_var admin AWS_SECRET_ACCESS_KEY)"; do
  if { k get configmaps,gm,cpol,ftc,jobs,events -o yaml; kubectl -n "${OPERATOR_NAMESPACE}" logs deploy/lcft-operator; } 2>/dev/null | grep -qF -- "${key}"; then
    leaks=$((leaks + 1))
  fi
done
((leaks == 0)) && pass "no secret key in ConfigMaps, objects, Jobs, events or the manager's log" || fail "a secret key appears in ConfigMaps, objects, Jobs, events or the manager's log"

if ((failures > 0)); then
  printf '\n=== diagnostics\n'
  kubectl get nodes -o wide
  k get gm,cpol,ftc,jobs,pods,secrets -o wide
  k get ftc -o yaml | sed -n '/^  status:/,/^- apiVersion/p' | head -150
  k get events --sort-by=.lastTimestamp | tail -40
  kubectl -n "${OPERATOR_NAMESPACE}" get pods -o wide
  kubectl -n "${OPERATOR_NAMESPACE}" logs deploy/lcft-operator --tail 60
  tail -5 "${STATE_DIR}/logs/seaweedfs.log" 2>/dev/null | cut -c1-300
  for p in $(k get pods --no-headers -o 'custom-columns=N:.metadata.name' | head -8); do
    printf -- '--- logs %s\n' "${p}"
    k logs "${p}" --tail 20 2>&1
  done
  printf '\ne2e: %d check(s) FAILED (%ds)\n' "${failures}" "$((SECONDS - t0))"
  exit 1
fi
printf '\ne2e: all checks passed (%ds)\n' "$((SECONDS - t0))"
