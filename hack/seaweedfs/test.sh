#!/usr/bin/env bash
# The trainer's storage against a real SeaweedFS S3 gateway, outside any
# cluster (not part of `go test ./...`):
#
#   hack/seaweedfs/test.sh      (make test-s3)
#   LCFT_TRAINER=path/to/lcft-trainer hack/seaweedfs/test.sh   # test that binary's CLI
#
#   1. hack/seaweedfs/up.sh in a temporary state dir on 127.0.0.1 with its own
#      ports (a running demo cluster is not disturbed): S3 authentication on,
#      anonymous refused, buckets lcft-data and lcft-artifacts;
#   2. TestLiveS3 (trainer/storage): round trips with the endpoint from the
#      environment and from the URI query; unknown access key, wrong secret,
#      missing bucket and anonymous access all fail permanently with the
#      store's error code;
#   3. the trainer CLI: `lcft-trainer gen` writes a synthetic dataset to
#      s3://lcft-data/, `lcft-trainer pretrain` reads it and writes the model
#      to s3://lcft-artifacts/ with the non-admin key, and the same pretraining
#      with a wrong secret key exits 2 (bad input) naming SignatureDoesNotMatch;
#   4. weed is stopped (by its recorded PID) and the state dir removed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "${repo_root}"
t0="${SECONDS}"
log() { printf '[s3-test %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
failures=0
pass() { printf '  PASS  %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }

tmp="$(mktemp -d /tmp/lcft-s3-test.XXXXXX)"
export STATE_DIR="${tmp}/state" RUN_DIR="${tmp}/run"
export S3_IP=127.0.0.1 S3_PORT="${S3_PORT:-18433}"
export SEAWEEDFS_MASTER_PORT="${SEAWEEDFS_MASTER_PORT:-19433}" SEAWEEDFS_VOLUME_PORT="${SEAWEEDFS_VOLUME_PORT:-19434}" SEAWEEDFS_FILER_PORT="${SEAWEEDFS_FILER_PORT:-19435}"
cleanup() {
  local pid
  pid="$(cat "${STATE_DIR}/pids/seaweedfs.pid" 2>/dev/null || true)"
  if [[ -n "${pid}" && "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "$(cat "${STATE_DIR}/pids/seaweedfs.exe" 2>/dev/null)" ]]; then
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 50); do [[ -d "/proc/${pid}" ]] || break; sleep 0.2; done
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  if ((failures)) && [[ -f "${STATE_DIR}/logs/seaweedfs.log" ]]; then
    printf -- '--- the end of seaweedfs.log\n'
    tail -20 "${STATE_DIR}/logs/seaweedfs.log" | cut -c1-300
  fi
  rm -rf "${tmp}"
}
trap cleanup EXIT

weed="$(hack/seaweedfs/build.sh)"
"${weed}" version >&2
start="${SECONDS}"
WEED="${weed}" hack/seaweedfs/up.sh
log "weed started and ready in $((SECONDS - start))s"
admin_env="${STATE_DIR}/seaweedfs/admin.env"
trainer_env="${STATE_DIR}/seaweedfs/trainer.env"

printf '\n=== TestLiveS3 (trainer/storage)\n'
if LCFT_S3_LIVE_ENV="${trainer_env}" go test -count=1 -run 'TestLiveS3' -v ./trainer/storage 2>&1 | tee "${tmp}/live.log" | grep -E '^\s*(---|ok|FAIL|PASS)|s3live_test'; then
  grep -q -- '--- PASS: TestLiveS3 ' "${tmp}/live.log" && pass "TestLiveS3" || fail "TestLiveS3 did not pass"
else
  fail "TestLiveS3"
fi

printf '\n=== the trainer CLI on s3:// URIs\n'
trainer="${LCFT_TRAINER:-${tmp}/lcft-trainer}" # LCFT_TRAINER: a prebuilt binary to test instead
if [[ -z "${LCFT_TRAINER:-}" ]] && ! go build -o "${trainer}" ./trainer/cmd/lcft-trainer; then
  fail "go build ./trainer/cmd/lcft-trainer"
  exit 1
fi
# with_env FILE CMD...: run CMD with the AWS_* variables of FILE only.
with_env() {
  local f="$1"
  shift
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL AWS_EC2_METADATA_DISABLED=true $(cat "${f}") "$@"
}
data=s3://lcft-data/synthetic/test.csv
if with_env "${admin_env}" "${trainer}" gen --users 120 --items 200 --samples-per-user 30 --drift 0.7 --data-seed 3 --out "${data}"; then
  pass "gen --out ${data} (admin key)"
else
  fail "gen --out ${data}"
fi
out=s3://lcft-artifacts/test/pretrain
if with_env "${trainer_env}" "${trainer}" pretrain --data "${data}" --format Samples --arch LR --out "${out}" >"${tmp}/pretrain.out" 2>&1; then
  pass "pretrain --data ${data} --out ${out} (trainer key): $(grep -E '^(model|Cloud AUC) ' "${tmp}/pretrain.out" | tr -s ' ' | paste -sd';' | cut -c1-200)"
else
  fail "pretrain exited $?: $(tail -3 "${tmp}/pretrain.out")"
fi
sed 's/^AWS_SECRET_ACCESS_KEY=.*/AWS_SECRET_ACCESS_KEY=wrong-secret-key-for-the-test-0000000000/' "${trainer_env}" >"${tmp}/wrong.env"
rc=0
with_env "${tmp}/wrong.env" "${trainer}" pretrain --data "${data}" --format Samples --arch LR --out "${out}-wrong" >"${tmp}/wrong.out" 2>&1 || rc=$?
msg="$(grep -m1 'lcft-trainer:' "${tmp}/wrong.out" | cut -c1-400)"
if [[ "${rc}" == 2 && "${msg}" == *SignatureDoesNotMatch* ]]; then
  pass "pretrain with a wrong secret key exits 2: ${msg}"
else
  fail "pretrain with a wrong secret key exited ${rc}, want 2 with SignatureDoesNotMatch: ${msg:-$(tail -3 "${tmp}/wrong.out")}"
fi
rc=0
with_env "${trainer_env}" "${trainer}" pretrain --data s3://lcft-no-such-bucket/x.csv --format Samples --arch LR --out "${out}-nobucket" >"${tmp}/nobucket.out" 2>&1 || rc=$?
msg="$(grep -m1 'lcft-trainer:' "${tmp}/nobucket.out" | cut -c1-400)"
if [[ "${rc}" == 2 && "${msg}" == *NoSuchBucket* ]]; then
  pass "pretrain from a missing bucket exits 2: ${msg}"
else
  fail "pretrain from a missing bucket exited ${rc}, want 2 with NoSuchBucket: ${msg:-$(tail -3 "${tmp}/nobucket.out")}"
fi

if ((failures)); then
  printf '\ns3 test: %d check(s) FAILED (%ds)\n' "${failures}" "$((SECONDS - t0))"
  exit 1
fi
printf '\ns3 test: all checks passed (%ds)\n' "$((SECONDS - t0))"
