#!/usr/bin/env bash
# End-to-end test on a real local cluster: hack/demo.sh's flow, then checks.
#
#   hack/e2e.sh            (make e2e)   exit 0 when every check passes
#   E2E_KEEP=1 hack/e2e.sh              keep the cluster afterwards
#
# Checks:
#   - the GlobalModel is Ready and both CorrectionPolicies are Ready;
#   - ctr-low and ctr-middle are Succeeded with users > 0 and Cloud, Local and
#     LCFT AUCs in (0, 1], and their pods ran on the real (amd64) node;
#   - ctr-high (pool arm64) had its pods scheduled onto the kwok arm64 node,
#     where nothing runs, and is Failed with reason MissingSummary;
#   - `kubectl logs` works through the kubelet (manager and a trainer pod).
# On failure, diagnostics (objects, events, logs) are printed.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
DEMO_NAMESPACE="${DEMO_NAMESPACE:-lcft-demo}"
OPERATOR_NAMESPACE="${OPERATOR_NAMESPACE:-lcft-system}"
NODE_NAME="${NODE_NAME:-lcft-node}"
ARM_NODE_NAME="${ARM_NODE_NAME:-lcft-kwok-arm64}"
# The runs take seconds once the manager is up; do not wait 10 minutes to fail.
DEMO_TIMEOUT="${DEMO_TIMEOUT:-300}"
export STATE_DIR DEMO_NAMESPACE OPERATOR_NAMESPACE NODE_NAME ARM_NODE_NAME DEMO_TIMEOUT
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

if ! hack/demo.sh; then
  fail "hack/demo.sh exited non-zero"
fi

k() { kubectl -n "${DEMO_NAMESPACE}" "$@"; }
jp() { k get "$1" -o "jsonpath=$2" 2>/dev/null; }
# in_unit X: X is a decimal in (0, 1].
in_unit() { awk -v x="$1" 'BEGIN { exit !(x ~ /^[0-9.eE+-]+$/ && x + 0 > 0 && x + 0 <= 1) }'; }

printf '\n=== e2e checks\n'

phase="$(jp gm/widedeep-synthetic '{.status.phase}')"
[[ "${phase}" == Ready ]] && pass "GlobalModel widedeep-synthetic Ready" || fail "GlobalModel widedeep-synthetic phase '${phase}', want Ready"
for p in auto hard-table; do
  phase="$(jp "cpol/${p}" '{.status.phase}')"
  [[ "${phase}" == Ready ]] && pass "CorrectionPolicy ${p} Ready" || fail "CorrectionPolicy ${p} phase '${phase}', want Ready"
done

# job_pods COHORT: "pod node" lines of the cohort's current Job.
job_pods() {
  local job
  job="$(jp "ftc/$1" '{.status.jobName}')"
  [[ -n "${job}" ]] || return 0
  k get pods -l "batch.kubernetes.io/job-name=${job}" --no-headers -o 'custom-columns=N:.metadata.name,NODE:.spec.nodeName'
}

for c in ctr-low ctr-middle; do
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
  nodes="$(job_pods "${c}" | awk '{print $2}' | sort -u | tr '\n' ' ')"
  [[ "${nodes}" == "${NODE_NAME} " ]] && pass "cohort ${c} pods ran on ${NODE_NAME}" || fail "cohort ${c} pods on '${nodes}', want ${NODE_NAME}"
done

c=ctr-high
phase="$(jp "ftc/${c}" '{.status.phase}')"
reason="$(jp "ftc/${c}" '{.status.conditions[?(@.type=="Failed")].reason}')"
[[ "${phase}" == Failed ]] && pass "cohort ${c} Failed (simulated arm64 node runs nothing)" || fail "cohort ${c} phase '${phase}', want Failed"
[[ "${reason}" == MissingSummary ]] && pass "cohort ${c} reason MissingSummary" || fail "cohort ${c} Failed reason '${reason}', want MissingSummary"
pods="$(job_pods "${c}")"
if [[ -n "${pods}" ]] && awk -v n="${ARM_NODE_NAME}" '$2 != n { bad = 1 } END { exit bad }' <<<"${pods}"; then
  pass "cohort ${c} pods scheduled on ${ARM_NODE_NAME} ($(wc -l <<<"${pods}") pod(s))"
else
  fail "cohort ${c} pods not all on ${ARM_NODE_NAME}: '${pods}'"
fi
[[ "$(kubectl get node "${ARM_NODE_NAME}" -o 'jsonpath={.metadata.labels.kubernetes\.io/arch}')" == arm64 ]] &&
  pass "node ${ARM_NODE_NAME} is labelled kubernetes.io/arch=arm64" || fail "node ${ARM_NODE_NAME} arch label"

mgr_logs="$(kubectl -n "${OPERATOR_NAMESPACE}" logs deploy/lcft-operator --tail 5 2>&1)"
[[ -n "${mgr_logs}" && "${mgr_logs}" != *"error:"* ]] && pass "kubectl logs of the manager" || fail "kubectl logs of the manager: ${mgr_logs}"
trainer_pod="$(job_pods ctr-low | awk 'NR == 1 {print $1}')"
if [[ -n "${trainer_pod}" ]]; then
  out="$(k logs "${trainer_pod}" 2>&1)"
  [[ "${out}" != *"error:"* ]] && pass "kubectl logs of trainer pod ${trainer_pod}" || fail "kubectl logs ${trainer_pod}: ${out}"
fi

if ((failures > 0)); then
  printf '\n=== diagnostics\n'
  kubectl get nodes -o wide
  k get gm,cpol,ftc,jobs,pods,pvc -o wide
  k get ftc -o yaml | sed -n '/^  status:/,/^- apiVersion/p' | head -150
  k get events --sort-by=.lastTimestamp | tail -40
  kubectl -n "${OPERATOR_NAMESPACE}" get pods -o wide
  kubectl -n "${OPERATOR_NAMESPACE}" logs deploy/lcft-operator --tail 60
  for p in $(k get pods --no-headers -o 'custom-columns=N:.metadata.name' | head -5); do
    printf -- '--- logs %s\n' "${p}"
    k logs "${p}" --tail 20 2>&1
  done
  printf '\ne2e: %d check(s) FAILED (%ds)\n' "${failures}" "$((SECONDS - t0))"
  exit 1
fi
printf '\ne2e: all checks passed (%ds)\n' "$((SECONDS - t0))"
