#!/usr/bin/env bash
# Scale benchmark (make bench-scale; not part of CI): the paper's
# MovieLens-20M size on the local cluster, through the S3 store.
#
#   hack/bench-scale.sh                  # brings the demo cluster up first (hack/demo.sh)
#   BENCH_REUSE=1 hack/bench-scale.sh    # the demo cluster is already up
#
# 1. `lcft-trainer gen` writes synthetic data of MovieLens-20M's size
#    (138,493 users, 26,744 items, 20 categories, ~144 samples per user with a
#    long tail, so ~20 million samples; global CTR 0.5, drift 0.6, seed 20) as
#    Parquet to s3://lcft-data/scale/.
# 2. A Wide&Deep GlobalModel (embedding dim 8, MLP 200-80) pretrains on it with
#    the paper's settings (SGD, batch 32, 2 epochs, lr 1.0 decayed by 0.1),
#    in one pod at the chart's default memory limit (2Gi); it also writes the
#    dataset partitioned by user.
# 3. Three CTR-group cohorts (low / middle / high local CTR, PerUser, 8 shards
#    each) fine-tune it at lr 0.01; each shard reads only its partitions.
# It prints, per stage, the wall time and samples/s, and per pod the peak RSS
# and the container's peak memory (the cgroup's, reported by the trainer in
# its termination message), the bytes read, and whether any pod was
# OOMKilled. Targets: no OOMKill, every shard's peak <= 1 GiB, each shard
# reading about 1/8 of the data, the pretraining pod within 2Gi.
#
# Environment: BENCH_NAMESPACE (lcft-scale), BENCH_USERS (138493),
# BENCH_SAMPLES_PER_USER (144), BENCH_SHARDS (8), BENCH_TIMEOUT seconds (5400).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${repo_root}"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
NS="${BENCH_NAMESPACE:-lcft-scale}"
USERS="${BENCH_USERS:-138493}"
PER_USER="${BENCH_SAMPLES_PER_USER:-144}"
SHARDS="${BENCH_SHARDS:-8}"
TIMEOUT="${BENCH_TIMEOUT:-5400}"
export KUBECONFIG="${STATE_DIR}/kubeconfig"

t0="${SECONDS}"
log() { printf '[bench-scale %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${BENCH_REUSE:-0}" != 1 ]]; then
  log "bringing the demo cluster up (hack/demo.sh)"
  hack/demo.sh >&2
fi
kubectl get nodes >/dev/null || die "no cluster at ${KUBECONFIG}"
s3_dir="${STATE_DIR}/seaweedfs"
[[ -f "${s3_dir}/admin.env" && -f "${s3_dir}/trainer.env" ]] || die "no S3 credentials in ${s3_dir} (hack/seaweedfs/up.sh)"

printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
  labels:
    pod-security.kubernetes.io/enforce: restricted
EOF
kubectl -n "${NS}" create secret generic lcft-s3-credentials \
  --from-env-file="${s3_dir}/trainer.env" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# --- 1. data -----------------------------------------------------------------
dataset="s3://lcft-data/scale/synthetic-${USERS}u-${PER_USER}s-seed20.parquet"
CGO_ENABLED=0 go build -o bin/lcft-trainer ./trainer/cmd/lcft-trainer
gen_start="${SECONDS}"
gen_out="$(
  set -a; . "${s3_dir}/admin.env"; set +a
  /usr/bin/time -f 'gen: wall %e s, user %U s, sys %S s, max RSS %M KiB' \
    bin/lcft-trainer gen --users "${USERS}" --items 26744 --categories 20 --samples-per-user "${PER_USER}" \
    --global-ctr 0.5 --drift 0.6 --data-seed 20 --out "${dataset}" 2>&1
)"
gen_secs=$((SECONDS - gen_start))
printf '%s\n' "${gen_out}"
samples="$(sed -n 's/^wrote \([0-9]*\) samples.*/\1/p' <<<"${gen_out}")"
[[ -n "${samples}" ]] || die "gen did not report its samples"

dataset_yaml="{format: Samples, uri: \"${dataset}\", split: {method: PerUserFraction, trainFraction: \"0.8\"}}"
pod_template="
  podTemplate:
    envFrom: [{secretRef: {name: lcft-s3-credentials}}]"

# --- 2. pretraining ------------------------------------------------------------
kubectl -n "${NS}" delete ftc --all --wait=true >/dev/null 2>&1 || true
kubectl -n "${NS}" delete gm widedeep-scale --wait=true >/dev/null 2>&1 || true
pre_start="${SECONDS}"
kubectl -n "${NS}" apply -f - >/dev/null <<EOF
apiVersion: finetune.lcft.dev/v1alpha1
kind: GlobalModel
metadata:
  name: widedeep-scale
spec:
  architecture: WideDeep
  hyperparameters: {embeddingDim: 8, hiddenUnits: [200, 80], historyLength: 20}
  training:
    dataset: ${dataset_yaml}
    optimizer: SGD
    learningRate: "1"
    learningRateDecay: "0.1"
    epochs: 2
    batchSize: 32
    seed: 1
  placement: {pool: amd64}
${pod_template}
EOF

# wait_for KIND NAME PHASES...: until the object's phase is one of PHASES.
wait_for() {
  local kind="$1" name="$2" phase last=""
  shift 2
  local deadline=$((SECONDS + TIMEOUT))
  while :; do
    phase="$(kubectl -n "${NS}" get "${kind}" "${name}" -o jsonpath='{.status.phase}' 2>/dev/null || true)"
    [[ "${phase}" != "${last}" ]] && log "${kind}/${name}: ${phase:-<none>}" && last="${phase}"
    for want in "$@"; do [[ "${phase}" == "${want}" ]] && return 0; done
    ((SECONDS < deadline)) || die "${kind}/${name} still ${phase} after ${TIMEOUT}s"
    sleep 5
  done
}
wait_for gm widedeep-scale Ready Failed
pre_secs=$((SECONDS - pre_start))
[[ "$(kubectl -n "${NS}" get gm widedeep-scale -o jsonpath='{.status.phase}')" == Ready ]] || {
  kubectl -n "${NS}" get gm widedeep-scale -o yaml >&2
  die "pretraining failed"
}

# --- 3. cohorts ----------------------------------------------------------------
ft_start="${SECONDS}"
for c in "ctr-low 0 0.35" "ctr-middle 0.35 0.65" "ctr-high 0.65 1"; do
  read -r name lo hi <<<"${c}"
  kubectl -n "${NS}" apply -f - >/dev/null <<EOF
apiVersion: finetune.lcft.dev/v1alpha1
kind: FineTuneCohort
metadata:
  name: ${name}
spec:
  globalModelRef: {name: widedeep-scale}
  dataset: ${dataset_yaml}
  ctrRange: {min: "${lo}", max: "${hi}"}
  mode: PerUser
  fineTuning: {optimizer: SGD, learningRate: "0.01", epochs: 1, batchSize: 32}
  shards: ${SHARDS}
  placement: {pool: amd64}
${pod_template}
EOF
done
for name in ctr-low ctr-middle ctr-high; do
  wait_for ftc "${name}" Succeeded Failed
done
ft_secs=$((SECONDS - ft_start))

# --- report ---------------------------------------------------------------------
kubectl -n "${NS}" get gm,ftc
printf '\nload average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
objects="$(mktemp)"
trap 'rm -f "${objects}"' EXIT
kubectl -n "${NS}" get gm,ftc,pods -o json >"${objects}"
python3 - "${objects}" "${samples}" "${gen_secs}" "${pre_secs}" "${ft_secs}" "${SHARDS}" <<'PY'
import json, sys
samples, gen_secs, pre_secs, ft_secs, shards = int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
with open(sys.argv[1]) as f:
    items = json.load(f)["items"]
gm = next(i for i in items if i["kind"] == "GlobalModel")
cohorts = [i for i in items if i["kind"] == "FineTuneCohort"]
pods = [i for i in items if i["kind"] == "Pod"]
GiB, MiB = 1 << 30, 1 << 20

def summary(pod):
    for cs in pod["status"].get("containerStatuses", []):
        t = cs.get("state", {}).get("terminated") or cs.get("lastState", {}).get("terminated")
        if t:
            try:
                return json.loads(t.get("message") or "{}"), t.get("reason", "")
            except ValueError:
                return {}, t.get("reason", "")
    return {}, ""

print("\nstage                      wall s   samples/s")
print(f"generate + upload (Parquet) {gen_secs:7.0f}   {samples / max(gen_secs, 1):9.0f}")
train = gm["status"].get("samples", 0)
print(f"pretrain (2 epochs)         {pre_secs:7.0f}   {2 * train / max(pre_secs, 1):9.0f}   ({train} train samples x 2 epochs; pod: load, partition, train, evaluate, save)")
ft_samples = sum(c["status"].get("samples", 0) for c in cohorts)
print(f"fine-tune 3 cohorts x {shards} shards {ft_secs:4.0f}   {ft_samples / max(ft_secs, 1):9.0f}   ({ft_samples} training samples, Local and LCFT each)")

print("\npod                                    reason      peak RSS  container peak  bytes read  seconds")
worst_shard, oom = 0, []
for p in sorted(pods, key=lambda p: p["metadata"]["name"]):
    s, reason = summary(p)
    name = p["metadata"]["name"]
    if reason == "OOMKilled":
        oom.append(name)
    rss, cg = s.get("peakRSS", 0), s.get("cgroupPeak", 0)
    ft = s.get("finetune") or {}
    pre = s.get("pretrain") or {}
    secs = ft.get("seconds") or pre.get("seconds") or 0
    read = ft.get("bytesRead", 0)
    if ft:
        worst_shard = max(worst_shard, cg or rss)
    print(f"{name:38s} {reason:10s} {rss / MiB:7.0f} MiB  {cg / MiB:10.0f} MiB  {read / MiB:7.1f} MiB  {secs:7.0f}")
pre_pod = [p for p in pods if "-pretrain-" in p["metadata"]["name"]]
pre_peak = max((summary(p)[0].get("cgroupPeak") or summary(p)[0].get("peakRSS", 0)) for p in pre_pod) if pre_pod else 0
print("\ncohort        users   samples  Cloud     Local     LCFT      lift vs Local  partitioned")
for c in sorted(cohorts, key=lambda c: c["metadata"]["name"]):
    st = c["status"]
    print(f"{c['metadata']['name']:12s} {st.get('users', 0):6d} {st.get('samples', 0):9d}  {st.get('cloudAUC', '-'):8s}  {st.get('localAUC', '-'):8s}  {st.get('lcftAUC', '-'):8s}  {st.get('liftVsLocal', '-'):13s}  {st.get('partitioned', False)}")
print(f"\nOOMKilled pods: {len(oom)} {oom}")
print(f"largest shard peak: {worst_shard / MiB:.0f} MiB (target <= 1024 MiB)")
print(f"pretraining pod peak: {pre_peak / MiB:.0f} MiB (limit 2048 MiB)")
ok = not oom and worst_shard <= GiB and 0 < pre_peak <= 2 * GiB and all(c["status"].get("phase") == "Succeeded" for c in cohorts)
print("targets met" if ok else "targets NOT met")
PY
log "done in $((SECONDS - t0))s"
