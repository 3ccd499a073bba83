#!/usr/bin/env bash
# Start the local cluster's object store: SeaweedFS (`weed server`: master,
# volume server, filer and S3 gateway in one process), with S3 authentication
# on and the buckets the demo uses.
#
#   hack/seaweedfs/up.sh            # idempotent: starts weed unless it runs, waits, creates buckets
#   hack/seaweedfs/up.sh --no-wait  # start and return (run it again without the flag to wait)
#   . "$STATE_DIR/seaweedfs/admin.env"   # AWS_* variables of the admin identity
#
# hack/cluster/up.sh runs it (S3_IP = the node's IP, which trainer pods reach
# through the CNI bridge's gateway, since the address is local to the host);
# hack/cluster/down.sh stops it by its recorded PID.
#
# Only the S3 gateway listens on S3_IP:S3_PORT; master, volume server and
# filer (which have no authentication) listen on 127.0.0.1. The gateway knows
# two identities, each with a random access key pair generated once per state
# dir and written to files that only root reads:
#   admin   Admin, Read, Write, List, Tagging  -> $STATE_DIR/seaweedfs/admin.env
#   lcft    Read, Write, List, Tagging         -> $STATE_DIR/seaweedfs/trainer.env
# Anonymous requests get 403 AccessDenied, and buckets are never created
# implicitly (a write to a missing bucket is NoSuchBucket). The .env files hold
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL_S3:
# hack/demo.sh makes the Secret lcft-s3-credentials from trainer.env.
#
# Environment:
#   STATE_DIR=bin/demo      data (seaweedfs/), logs/seaweedfs.log, pids/seaweedfs.{pid,exe}
#   RUN_DIR=/run/lcft-cluster  unix sockets
#   S3_IP                   address of the gateway (default: the host's primary IPv4)
#   S3_PORT=8333 S3_REGION=us-east-1 S3_BUCKETS="lcft-data lcft-artifacts"
#   SEAWEEDFS_MASTER_PORT=9333 SEAWEEDFS_VOLUME_PORT=9334 SEAWEEDFS_FILER_PORT=9335
#                           (gRPC ports are these + 10000)
#   WEED                    the weed binary (default: hack/seaweedfs/build.sh's)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
S3_PORT="${S3_PORT:-8333}"
S3_REGION="${S3_REGION:-us-east-1}"
S3_BUCKETS="${S3_BUCKETS:-lcft-data lcft-artifacts}"
SEAWEEDFS_MASTER_PORT="${SEAWEEDFS_MASTER_PORT:-9333}"
SEAWEEDFS_VOLUME_PORT="${SEAWEEDFS_VOLUME_PORT:-9334}"
SEAWEEDFS_FILER_PORT="${SEAWEEDFS_FILER_PORT:-9335}"
wait_ready=1
[[ "${1:-}" == --no-wait ]] && wait_ready=0

t0="${SECONDS}"
log() { printf '[seaweedfs %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# curl talks S3 here (--aws-sigv4, curl >= 7.75; Debian 12 has 7.88).
if ! command -v curl >/dev/null; then
  [[ "$(id -u)" == 0 ]] || die "needs curl"
  log "installing Debian's curl"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >&2
fi

if [[ -z "${S3_IP:-}" ]]; then
  S3_IP="$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
  S3_IP="${S3_IP:-$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.' || true)}"
  [[ -n "${S3_IP}" ]] || die "cannot find the host's IPv4 address; set S3_IP"
fi
endpoint="http://${S3_IP}:${S3_PORT}"

sw="${STATE_DIR}/seaweedfs"
pids="${STATE_DIR}/pids"
logs="${STATE_DIR}/logs"
mkdir -p "${sw}/data" "${sw}/config" "${pids}" "${logs}" "${RUN_DIR}"
chmod 700 "${sw}"

# --- identities ---------------------------------------------------------------
# rand_str N CHARS: N random characters from the tr set CHARS.
rand_str() { LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1"; }
# identity NAME: the key pair of NAME, made once (KEY SECRET on one line).
identity() {
  local f="${sw}/$1.keys"
  if [[ ! -s "${f}" ]]; then
    (umask 077 && printf '%s %s\n' "LCFT$(rand_str 16 'A-Z0-9')" "$(rand_str 40 'A-Za-z0-9')" >"${f}")
  fi
  cat "${f}"
}
read -r admin_key admin_secret < <(identity admin)
read -r trainer_key trainer_secret < <(identity trainer)
umask_old="$(umask)"
umask 077
cat >"${sw}/s3.json" <<EOF
{
  "identities": [
    {
      "name": "admin",
      "credentials": [{"accessKey": "${admin_key}", "secretKey": "${admin_secret}"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    },
    {
      "name": "lcft",
      "credentials": [{"accessKey": "${trainer_key}", "secretKey": "${trainer_secret}"}],
      "actions": ["Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
# env_file FILE KEY SECRET: what the SDKs read from the environment.
env_file() {
  cat >"$1" <<EOF
AWS_ACCESS_KEY_ID=$2
AWS_SECRET_ACCESS_KEY=$3
AWS_REGION=${S3_REGION}
AWS_ENDPOINT_URL_S3=${endpoint}
EOF
}
env_file "${sw}/admin.env" "${admin_key}" "${admin_secret}"
env_file "${sw}/trainer.env" "${trainer_key}" "${trainer_secret}"
umask "${umask_old}"

# --- process --------------------------------------------------------------------
running() {
  local pid exe
  [[ -f "${pids}/seaweedfs.pid" ]] || return 1
  pid="$(cat "${pids}/seaweedfs.pid")"
  [[ -n "${pid}" && -d "/proc/${pid}" ]] || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  [[ "${exe}" == "$(cat "${pids}/seaweedfs.exe" 2>/dev/null)" ]]
}

if running; then
  log "seaweedfs already running (pid $(cat "${pids}/seaweedfs.pid"))"
else
  WEED="${WEED:-$("${repo_root}/hack/seaweedfs/build.sh")}"
  WEED="$(readlink -f "${WEED}")"
  [[ -x "${WEED}" ]] || die "no weed binary at ${WEED}"
  # The gateway adds AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from its own
  # environment as an admin identity: start it without them. Its working
  # directory is its state dir (nothing lands in the checkout), its log goes
  # to stderr (not to /tmp), and telemetry is off (no outbound calls).
  # Every new bucket grows one 64 MB volume (sparse), not seven.
  (
    cd "${sw}"
    setsid env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
      WEED_MASTER_VOLUME_GROWTH_COPY_1=1 \
      "${WEED}" -logtostderr=true -config_dir="${sw}/config" server \
      -dir="${sw}/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port="${SEAWEEDFS_MASTER_PORT}" -master.volumeSizeLimitMB=64 -master.telemetry=false \
      -volume.port="${SEAWEEDFS_VOLUME_PORT}" -volume.max=32 -volume.preStopSeconds=0 \
      -filer -filer.port="${SEAWEEDFS_FILER_PORT}" -filer.localSocket="${RUN_DIR}/seaweedfs-filer.sock" \
      -s3 -s3.ip.bind="${S3_IP}" -s3.port="${S3_PORT}" -s3.config="${sw}/s3.json" \
      -s3.localSocket="${RUN_DIR}/seaweedfs-s3.sock" \
      -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false -s3.autoCreateBucket=false \
      >>"${logs}/seaweedfs.log" 2>&1 </dev/null &
    echo "$!" >"${pids}/seaweedfs.pid"
  )
  echo "${WEED}" >"${pids}/seaweedfs.exe"
  log "started seaweedfs (pid $(cat "${pids}/seaweedfs.pid"), S3 at ${endpoint}, log ${logs}/seaweedfs.log)"
fi

((wait_ready)) || exit 0

# --- ready: S3 answers, anonymous is refused, buckets exist, a write lands ------
# s3curl ARGS...: curl with the admin key (read from stdin, not on the command line).
s3curl() {
  printf 'user = "%s:%s"\n' "${admin_key}" "${admin_secret}" |
    curl -sS --max-time 10 --aws-sigv4 "aws:amz:${S3_REGION}:s3" -K - "$@"
}
code=""
for ((i = 0; i < 600; i++)); do
  [[ -d "/proc/$(cat "${pids}/seaweedfs.pid")" ]] ||
    die "seaweedfs exited; the end of ${logs}/seaweedfs.log: $(tail -5 "${logs}/seaweedfs.log" | cut -c1-300)"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${endpoint}/" || true)"
  [[ "${code}" != 000 ]] && break
  sleep 0.2
done
[[ "${code}" != 000 ]] || die "timed out after 120s waiting for the S3 gateway at ${endpoint}"
[[ "${code}" == 403 ]] || die "the S3 gateway answered an anonymous request with HTTP ${code}, want 403"
log "S3 gateway up at ${endpoint} (anonymous requests get 403)"

for b in ${S3_BUCKETS}; do
  for ((i = 0; ; i++)); do
    out="$(s3curl -o /dev/null -w '%{http_code}' -X PUT "${endpoint}/${b}" 2>&1 || true)"
    case "${out}" in
      200) log "created bucket ${b}"; break ;;
      409) break ;; # BucketAlreadyOwnedByYou
    esac
    ((i < 150)) || die "cannot create bucket ${b}: HTTP ${out}"
    sleep 0.2
  done
done
# The first write waits for the volume server to register with the master.
probe="${endpoint}/${S3_BUCKETS%% *}/.lcft-ready"
for ((i = 0; ; i++)); do
  # curl 7.88 signs a body only with an explicit x-amz-content-sha256 (sha256 of "ok").
  out="$(s3curl -o /dev/null -w '%{http_code}' -X PUT --data-binary ok -H 'Content-Type: text/plain' \
    -H 'x-amz-content-sha256: 2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df' "${probe}" 2>&1 || true)"
  [[ "${out}" == 200 ]] && break
  ((i < 300)) || die "cannot write ${probe}: HTTP ${out}"
  sleep 0.2
done
s3curl -o /dev/null -X DELETE "${probe}" || true
log "ready: buckets ${S3_BUCKETS// /, } at ${endpoint}; credentials in ${sw}/{admin,trainer}.env"
