# shellcheck shell=bash
# The Kueue case of hack/e2e.sh (sourced by it: uses its k, jp, pass, fail,
# wait_jp, lcft and NODE_NAME). Kueue (hack/kueue/up.sh: built from the Go
# module proxy, with its webhooks and internal certificates) admits three
# one-shard cohorts on the amd64 pool from LocalQueue lcft, whose
# ClusterQueue has room for one trainer pod per flavor:
#   - every cohort's Job is created suspended with the queue label;
#   - at no poll (every second) do two of their Jobs run at once, and at some
#     poll one runs while another is Queued (condition Queued=True,
#     WaitingForAdmission);
#   - all three end Succeeded, Admitted=True, status.admission.arch amd64
#     (the flavor), their pods on the real node;
#   - `kubectl lcft why` names the Workload's flavor.

printf '\n=== Kueue: a quota of one trainer pod admits one cohort at a time\n'
queued=(ctr-queued-1 ctr-queued-2 ctr-queued-3)
# queued_cohort NAME: ctr-low's sample renamed, one shard, in LocalQueue lcft.
queued_cohort() {
  sed -e "s/^  name: ctr-low\$/  name: $1\n  labels:\n    kueue.x-k8s.io\/queue-name: lcft/" -e 's/^  shards: 2$/  shards: 1/' \
    config/samples/finetune_v1alpha1_finetunecohort_low.yaml | k apply -f - >/dev/null
}
if ! hack/kueue/up.sh; then
  fail "hack/kueue/up.sh: Kueue not installed"
else
  pass "Kueue installed from the Go module proxy; ResourceFlavors amd64/arm64, ClusterQueue lcft, LocalQueue lcft"
  for c in "${queued[@]}"; do queued_cohort "${c}"; done
  max_running=0 saw_waiting="" all_done=""
  for ((i = 0; i < ${DEMO_TIMEOUT}; i++)); do
    running=0 done_n=0
    for c in "${queued[@]}"; do
      phase="$(jp "ftc/${c}" '{.status.phase}')"
      job="$(jp "ftc/${c}" '{.status.jobName}')"
      if [[ -n "${job}" ]]; then
        state="$(jp "job/${job}" '{.spec.suspend}/{.status.conditions[?(@.status=="True")].type}')"
        [[ "${state}" == false/ ]] && running=$((running + 1)) # unsuspended and not finished
      fi
      [[ "${phase}" == Succeeded || "${phase}" == Failed ]] && done_n=$((done_n + 1))
      if [[ "${phase}" == Queued && -z "${saw_waiting}" ]] &&
        [[ "$(jp "ftc/${c}" '{.status.conditions[?(@.type=="Queued")].status}/{.status.conditions[?(@.type=="Queued")].reason}')" == True/WaitingForAdmission ]]; then
        saw_waiting="${c}"
      fi
    done
    ((running > max_running)) && max_running="${running}"
    if ((done_n == ${#queued[@]})); then
      all_done=1
      break
    fi
    sleep 1
  done
  ((max_running <= 1)) && pass "at most one queued cohort's Job ran at a time" || fail "${max_running} queued cohorts' Jobs ran at once; the quota admits one"
  [[ -n "${saw_waiting}" ]] && pass "cohort ${saw_waiting} waited as Queued (WaitingForAdmission)" || fail "no queued cohort was seen waiting as Queued"
  [[ -n "${all_done}" ]] || fail "the queued cohorts did not all finish within ${DEMO_TIMEOUT}s"
  for c in "${queued[@]}"; do
    got="$(jp "ftc/${c}" '{.status.phase}/{.status.conditions[?(@.type=="Admitted")].status}/{.status.admission.localQueue}/{.status.admission.arch}')"
    [[ "${got}" == Succeeded/True/lcft/amd64 ]] && pass "cohort ${c} Succeeded, admitted by Kueue from lcft on flavor amd64" ||
      fail "cohort ${c} phase/Admitted/queue/arch '${got}', want Succeeded/True/lcft/amd64"
    nodes="$(job_pods "${c}" | awk '{print $2}' | sort -u | tr '\n' ' ')"
    [[ "${nodes}" == "${NODE_NAME} " ]] && pass "cohort ${c} pods ran on ${NODE_NAME}" || fail "cohort ${c} pods on '${nodes}', want ${NODE_NAME}"
  done
  if declare -F lcft >/dev/null; then
    out="${STATE_DIR}/lcft-why-${queued[0]}.txt"
    if lcft "${out}" why "${queued[0]}" && grep -q '^Kueue: Workload .*flavor amd64' "${out}"; then
      pass "kubectl lcft why ${queued[0]}: the Kueue Workload and its flavor"
    else
      fail "kubectl lcft why ${queued[0]}: $(grep -A2 '^Kueue' "${out}" | head -3)"
    fi
  fi
fi
