#!/usr/bin/env bash
# Start a real single-node Kubernetes cluster on loopback, from binaries built
# from the Go module proxy (hack/cluster/build.sh), with Debian's containerd,
# runc and CNI plugins, plus an emulated arm64 node: a second kubelet built for
# linux/arm64 and run by qemu-user, with its own containerd, whose pods run the
# images' linux/arm64 variants under qemu-user (binfmt_misc).
#
#   hack/cluster/up.sh          # idempotent: starts only what is not running
#   export KUBECONFIG=bin/demo/kubeconfig
#   hack/cluster/down.sh        # stops what up.sh started and removes its state
#
# Layout (override with the environment):
#   STATE_DIR=bin/demo          PKI, kubeconfigs, configs, logs, PIDs, etcd data,
#                               containerd root, kubelet root, CNI IPAM
#   RUN_DIR=/run/lcft-cluster   sockets and containerd's runtime state (short
#                               paths: unix socket paths must fit 108 bytes)
#   APISERVER_PORT=6443 ETCD_PORT=23790
#
# No kube-proxy and no iptables: there is no Service networking. Pods that
# talk to the API run with hostNetwork and KUBERNETES_SERVICE_HOST=127.0.0.1,
# KUBERNETES_SERVICE_PORT=$APISERVER_PORT. Pod-to-pod traffic works on the
# CNI bridge (no masquerade).
# The apiserver calls admission and conversion webhooks (Kueue's) at their
# Service's endpoints, not its cluster IP (--enable-aggregator-routing).
#
# Object store: SeaweedFS (hack/seaweedfs/up.sh) serves S3 at
# http://$NODE_IP:8333 with authentication; its access keys are in
# $STATE_DIR/seaweedfs/{admin,trainer}.env, its buckets lcft-data and
# lcft-artifacts.
#
# Needs root, and Debian packages: containerd runc containernetworking-plugins
# openssl curl iproute2 qemu-user-static (installed with apt-get when missing).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
APISERVER_PORT="${APISERVER_PORT:-6443}"
ETCD_PORT="${ETCD_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
NODE_NAME="${NODE_NAME:-lcft-node}"
ARM_NODE_NAME="${ARM_NODE_NAME:-lcft-arm64}"
ARM_POD_CIDR="${ARM_POD_CIDR:-10.89.0.0/16}"
ARM_BRIDGE="${ARM_BRIDGE:-lcft1}"
POD_CIDR="${POD_CIDR:-10.88.0.0/16}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"
BRIDGE="${BRIDGE:-lcft0}"
PAUSE_IMAGE="${PAUSE_IMAGE:-localhost/lcft-pause:dev}"

t0="${SECONDS}"
log() { printf '[cluster %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "must run as root (containerd, kubelet)"

# --- Debian packages ----------------------------------------------------------
need_pkgs=()
command -v containerd >/dev/null || need_pkgs+=(containerd)
command -v runc >/dev/null || need_pkgs+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need_pkgs+=(containernetworking-plugins)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl) # health checks; S3 requests (--aws-sigv4)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v qemu-aarch64-static >/dev/null || need_pkgs+=(qemu-user-static)
if ((${#need_pkgs[@]})); then
  log "installing Debian packages: ${need_pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
# The arm64 node's containers run linux/arm64 binaries: binfmt_misc hands them
# to qemu-aarch64-static, opened when registered (flag F), so it works inside
# a container's root filesystem that has no qemu.
"${repo_root}/hack/cluster/binfmt-arm64.sh"

# --- binaries -------------------------------------------------------------------
log "binaries (built from the Go module proxy on first use)"
# The Kubernetes binaries and weed share no compiled package: they build at
# the same time (the slower decides), each caching its result.
weed_path="$(mktemp)"
"${repo_root}/hack/seaweedfs/build.sh" >"${weed_path}" &
weed_pid=$!
BIN="$("${repo_root}/hack/cluster/build.sh")" || { kill "${weed_pid}" 2>/dev/null; wait "${weed_pid}" 2>/dev/null; rm -f "${weed_path}"; exit 1; }
wait "${weed_pid}" || { rm -f "${weed_path}"; log "building weed failed"; exit 1; }
WEED="$(cat "${weed_path}")"
rm -f "${weed_path}"
export PATH="${BIN}:${PATH}"

mkdir -p "${STATE_DIR}"/{pki,logs,pids,etcd,containerd,containerd-arm64,kubelet,kubelet-arm64,pod-logs-arm64,cni/net.d,cni/ipam,cni-arm64/net.d,cni-arm64/ipam} "${RUN_DIR}"
chmod 700 "${STATE_DIR}/pki"
pki="${STATE_DIR}/pki"
pids="${STATE_DIR}/pids"
logs="${STATE_DIR}/logs"

# --- process helpers ----------------------------------------------------------
# running NAME: the recorded PID is alive and is still the program we started.
running() {
  local pidf="${pids}/$1.pid" pid exe
  [[ -f "${pidf}" ]] || return 1
  pid="$(cat "${pidf}")"
  [[ -n "${pid}" && -d "/proc/${pid}" ]] || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  [[ "${exe}" == "$(cat "${pids}/$1.exe" 2>/dev/null)" ]]
}

# start NAME EXE ARGS...: start EXE in its own session, log to logs/NAME.log.
start() {
  local name="$1" exe="$2"
  shift 2
  if running "${name}"; then
    log "${name} already running (pid $(cat "${pids}/${name}.pid"))"
    return 0
  fi
  exe="$(readlink -f "$(command -v "${exe}")")"
  setsid "${exe}" "$@" >>"${logs}/${name}.log" 2>&1 </dev/null &
  echo "$!" >"${pids}/${name}.pid"
  echo "${exe}" >"${pids}/${name}.exe"
  log "started ${name} (pid $!, log ${logs}/${name}.log)"
}

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
  local what="$1" timeout="$2" i
  shift 2
  for ((i = 0; i < timeout * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${timeout}s waiting for ${what}"
}

# --- PKI (openssl; ECDSA P-256; valid 1 year) ----------------------------------
# cert NAME CN O USAGE [SAN]: a key and a certificate signed by the cluster CA.
cert() {
  local name="$1" cn="$2" o="$3" usage="$4" san="${5:-}" subj ext
  [[ -s "${pki}/${name}.crt" ]] && return 0
  subj="/CN=${cn}"
  [[ -n "${o}" ]] && subj="/O=${o}${subj}"
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${usage}"
  [[ -n "${san}" ]] && ext+=$'\n'"subjectAltName=${san}"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "${pki}/${name}.key" -subj "${subj}" -out "${pki}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${pki}/${name}.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
    -CAcreateserial -days 365 -extfile <(printf '%s\n' "${ext}") -out "${pki}/${name}.crt" 2>/dev/null
  rm -f "${pki}/${name}.csr"
}

if [[ ! -s "${pki}/ca.crt" ]]; then
  log "creating the cluster PKI in ${pki}"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "${pki}/ca.key" -subj "/CN=lcft-cluster-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${pki}/ca.crt" 2>/dev/null
fi
svc_ip="${SERVICE_CIDR%.*}.1"   # 10.96.0.1 for 10.96.0.0/16
cert apiserver kube-apiserver "" serverAuth \
  "IP:127.0.0.1,IP:${svc_ip},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
cert admin lcft-admin system:masters clientAuth
cert controller-manager system:kube-controller-manager "" clientAuth
cert scheduler system:kube-scheduler "" clientAuth
cert kubelet "system:node:${NODE_NAME}" system:nodes clientAuth
# The kubelet refuses a loopback node IP ("nodeIP can't be loopback address")
# and then reports no address at all, so `kubectl logs` has nowhere to go: the
# node registers (and the kubelet listens on) the host's primary IPv4 address.
NODE_IP="${NODE_IP:-$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}"
NODE_IP="${NODE_IP:-$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.' || true)}"
[[ -n "${NODE_IP}" ]] || die "cannot find a non-loopback IPv4 address for the kubelet; set NODE_IP"
if [[ -s "${pki}/kubelet-serving.crt" ]] &&
  ! openssl x509 -in "${pki}/kubelet-serving.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:${NODE_IP}\$\|IP Address:${NODE_IP},"; then
  rm -f "${pki}/kubelet-serving.crt" "${pki}/kubelet-serving.key" # the host's IP changed
fi
if [[ -s "${pki}/kubelet-arm64-serving.crt" ]] &&
  ! openssl x509 -in "${pki}/kubelet-arm64-serving.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:${NODE_IP}\$\|IP Address:${NODE_IP},"; then
  rm -f "${pki}/kubelet-arm64-serving.crt" "${pki}/kubelet-arm64-serving.key"
fi
cert kubelet-serving "system:node:${NODE_NAME}" system:nodes serverAuth "IP:${NODE_IP},IP:127.0.0.1,DNS:${NODE_NAME},DNS:localhost"
cert kubelet-arm64 "system:node:${ARM_NODE_NAME}" system:nodes clientAuth
cert kubelet-arm64-serving "system:node:${ARM_NODE_NAME}" system:nodes serverAuth "IP:${NODE_IP},IP:127.0.0.1,DNS:${ARM_NODE_NAME},DNS:localhost"
if [[ ! -s "${pki}/sa.key" ]]; then
  openssl ecparam -genkey -name prime256v1 -noout -out "${pki}/sa.key" 2>/dev/null
  openssl ec -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub" 2>/dev/null
fi

# kubeconfig FILE USER: a kubeconfig with embedded certificates.
kubeconfig() {
  local file="$1" user="$2"
  cat >"${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lcft
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(base64 -w0 <"${pki}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 <"${pki}/${user}.crt")
    client-key-data: $(base64 -w0 <"${pki}/${user}.key")
contexts:
- name: lcft
  context: {cluster: lcft, user: ${user}}
current-context: lcft
EOF
  chmod 600 "${file}"
}
kubeconfig "${STATE_DIR}/kubeconfig" admin
kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" controller-manager
kubeconfig "${STATE_DIR}/scheduler.kubeconfig" scheduler
kubeconfig "${STATE_DIR}/kubelet.kubeconfig" kubelet
kubeconfig "${STATE_DIR}/kubelet-arm64.kubeconfig" kubelet-arm64
export KUBECONFIG="${STATE_DIR}/kubeconfig"

# --- object store: SeaweedFS's S3 gateway on the node's IP ---------------------
# Pods reach it there: their default route is the bridge's gateway on this
# host, and the node IP is local to the host. Started now, waited for at the
# end (it needs a few seconds to come up).
export STATE_DIR RUN_DIR
S3_IP="${NODE_IP}" WEED="${WEED}" "${repo_root}/hack/seaweedfs/up.sh" --no-wait

# --- etcd -----------------------------------------------------------------------
start etcd etcd --name lcft --data-dir "${STATE_DIR}/etcd" \
  --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
  --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster "lcft=http://127.0.0.1:${ETCD_PEER_PORT}" \
  --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
wait_for "etcd" 30 curl -fsS "http://127.0.0.1:${ETCD_PORT}/health"

# --- kube-apiserver -----------------------------------------------------------
start kube-apiserver kube-apiserver \
  --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${APISERVER_PORT}" \
  --endpoint-reconciler-type none \
  --enable-aggregator-routing=true \
  --service-cluster-ip-range "${SERVICE_CIDR}" \
  --client-ca-file "${pki}/ca.crt" \
  --tls-cert-file "${pki}/apiserver.crt" --tls-private-key-file "${pki}/apiserver.key" \
  --kubelet-client-certificate "${pki}/apiserver-kubelet-client.crt" --kubelet-client-key "${pki}/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "${pki}/ca.crt" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "${pki}/sa.pub" --service-account-signing-key-file "${pki}/sa.key" \
  --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction \
  --allow-privileged=true \
  --cert-dir "${STATE_DIR}/apiserver-certs" \
  --profiling=false --v=1
wait_for "kube-apiserver /readyz" 60 kubectl get --raw /readyz
log "kube-apiserver ready on https://127.0.0.1:${APISERVER_PORT}"

# --- controller-manager, scheduler ---------------------------------------------
start kube-controller-manager kube-controller-manager \
  --kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
  --authentication-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
  --authorization-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false \
  --service-account-private-key-file "${pki}/sa.key" --use-service-account-credentials=true \
  --root-ca-file "${pki}/ca.crt" \
  --service-cluster-ip-range "${SERVICE_CIDR}" \
  --profiling=false --v=1
start kube-scheduler kube-scheduler \
  --kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
  --authentication-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
  --authorization-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v=1

# --- containerd -----------------------------------------------------------------
# cni_config DIR BRIDGE CIDR: the CNI bridge network of one node's containerd.
cni_config() {
  cat >"$1/net.d/10-lcft.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "lcft-cluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$2",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$1/ipam",
        "ranges": [[{"subnet": "$3"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}
# containerd_config NAME: containerd NAME's config (containerd or
# containerd-arm64); its root is STATE_DIR/NAME, its CNI dir STATE_DIR/cni or
# STATE_DIR/cni-arm64, its socket RUN_DIR/NAME.sock.
containerd_config() {
  local name="$1" cni="${STATE_DIR}/cni${1#containerd}"
  cat >"${STATE_DIR}/${name}.toml" <<EOF
# Written by hack/cluster/up.sh.
version = 2
root = "${STATE_DIR}/${name}"
state = "${RUN_DIR}/${name}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${RUN_DIR}/${name}.sock"
[ttrpc]
  address = "${RUN_DIR}/${name}.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  # The pod sandbox image is built locally (hack/imagebuild/pause); nothing is pulled.
  sandbox_image = "${PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE, runc cannot lower oom_score_adj below the
  # parent's: every sandbox fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  # Network namespaces under our state dir, so down.sh finds every mount.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${RUN_DIR}/runc-${name}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cni}/net.d"
[plugins."io.containerd.internal.v1.opt"]
  path = "${STATE_DIR}/${name}-opt"
EOF
}
cni_config "${STATE_DIR}/cni" "${BRIDGE}" "${POD_CIDR}"
cni_config "${STATE_DIR}/cni-arm64" "${ARM_BRIDGE}" "${ARM_POD_CIDR}"
for c in containerd containerd-arm64; do
  containerd_config "${c}"
  start "${c}" containerd --config "${STATE_DIR}/${c}.toml"
done
ctr_() { ctr --address "${RUN_DIR}/containerd.sock" "$@"; }
ctr_arm64() { ctr --address "${RUN_DIR}/containerd-arm64.sock" "$@"; }
wait_for "containerd" 30 ctr_ version
wait_for "containerd-arm64" 30 ctr_arm64 version

# --- pause image (sandbox_image) -------------------------------------------------
# Both containerds run the host's (amd64) pause binary: a sandbox runs nothing.
for c in ctr_ ctr_arm64; do
  if ! "${c}" -n k8s.io images ls -q | grep -qx "${PAUSE_IMAGE}"; then
    if [[ ! -s "${repo_root}/bin/images/lcft-pause.oci.tar" ]]; then
      log "building the pause image ${PAUSE_IMAGE}"
      IMAGES_DIR="${repo_root}/bin/images" "${repo_root}/hack/imagebuild/images.sh" pause >&2
    fi
    "${c}" -n k8s.io images import --all-platforms "${repo_root}/bin/images/lcft-pause.oci.tar" >&2
    "${c}" -n k8s.io images label "${PAUSE_IMAGE}" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
  fi
done

# --- kubelets ---------------------------------------------------------------------
# kubelet_config NAME PORT HEALTHZ_PORT CONTAINERD [EXTRA_YAML]: a kubelet's
# config, with the serving certificate pki/NAME-serving.
kubelet_config() {
  cat >"${STATE_DIR}/$1.yaml" <<EOF
# Written by hack/cluster/up.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: $2
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $3
tlsCertFile: ${pki}/$1-serving.crt
tlsPrivateKeyFile: ${pki}/$1-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${pki}/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${RUN_DIR}/$4.sock
# cgroup v1 host, no systemd: cgroupfs driver; 1.35 refuses cgroup v1 unless told.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 50
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
${5:-}
EOF
}
kubelet_config kubelet 10250 10248 containerd
start kubelet kubelet \
  --config "${STATE_DIR}/kubelet.yaml" \
  --kubeconfig "${STATE_DIR}/kubelet.kubeconfig" \
  --root-dir "${STATE_DIR}/kubelet" \
  --cert-dir "${STATE_DIR}/kubelet/pki" \
  --hostname-override "${NODE_NAME}" --node-ip "${NODE_IP}" \
  --node-labels "lcft.dev/node=real" \
  --v=1

# --- the emulated arm64 node -------------------------------------------------------
# The kubelet built for linux/arm64, run by qemu-aarch64-static: the node's
# kubernetes.io/arch=arm64 is that kubelet's own GOARCH (a kubelet keeps its
# node's arch label equal to its GOARCH). It shares the host with the first
# kubelet, so all that a kubelet owns is its own: root dir, ports, the pod
# cgroups (under /lcft-arm64), pod logs, and its containerd (a second
# instance: a kubelet removes the containers it does not know). Images reach
# that containerd as their linux/arm64 variant (images.sh's
# NAME.linux-arm64.docker.tar, imported with --platform linux/arm64), so the
# name resolves there to the arm64 manifest and the trainer is the arm64
# binary, run by qemu-user through binfmt_misc.
for d in /sys/fs/cgroup/*/; do
  [[ -L "${d%/}" ]] || mkdir -p "${d}lcft-arm64" 2>/dev/null || true
done
kubelet_config kubelet-arm64 10260 10261 containerd-arm64 "cgroupRoot: /lcft-arm64
podLogsDir: ${STATE_DIR}/pod-logs-arm64"
start kubelet-arm64 qemu-aarch64-static "${BIN}/kubelet-arm64" \
  --config "${STATE_DIR}/kubelet-arm64.yaml" \
  --kubeconfig "${STATE_DIR}/kubelet-arm64.kubeconfig" \
  --root-dir "${STATE_DIR}/kubelet-arm64" \
  --cert-dir "${STATE_DIR}/kubelet-arm64/pki" \
  --hostname-override "${ARM_NODE_NAME}" --node-ip "${NODE_IP}" \
  --node-labels "lcft.dev/node=arm64-emulated" \
  --v=1

# --- ready ------------------------------------------------------------------------
node_ready() {
  [[ "$(kubectl get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
wait_for "node ${NODE_NAME} Ready" 120 node_ready "${NODE_NAME}"
log "node ${NODE_NAME} Ready"
wait_for "node ${ARM_NODE_NAME} Ready" 300 node_ready "${ARM_NODE_NAME}"
log "node ${ARM_NODE_NAME} Ready (kubernetes.io/arch=$(kubectl get node "${ARM_NODE_NAME}" -o 'jsonpath={.metadata.labels.kubernetes\.io/arch}'))"
wait_for "default service account" 60 kubectl get serviceaccount default -n default
wait_for "kube-root-ca.crt" 60 kubectl get configmap kube-root-ca.crt -n default
S3_IP="${NODE_IP}" WEED="${WEED}" "${repo_root}/hack/seaweedfs/up.sh"
log "cluster ready: export KUBECONFIG=${STATE_DIR}/kubeconfig"
kubectl get nodes -o wide >&2
