#!/usr/bin/env bash
# Stop the local cluster that hack/cluster/up.sh started and remove its state.
#
# Only processes whose PIDs up.sh recorded (and that still run the recorded
# executable) are stopped, plus the containers' shims under the cluster's own
# containerd. Mounts under the state dirs (pod volumes, rootfs, netns) are
# unmounted, the CNI bridge is deleted, then STATE_DIR and RUN_DIR are
# removed (with them the object store's data and access keys, under
# STATE_DIR/seaweedfs). Built binaries (bin/k8s, bin/weed-*) and
# images (bin/images) stay.
#
#   KEEP_STATE=1 hack/cluster/down.sh   # stop, but keep STATE_DIR (logs, PKI)
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
STATE_DIR="${STATE_DIR:-${repo_root}/bin/demo}"
RUN_DIR="${RUN_DIR:-/run/lcft-cluster}"
BRIDGE="${BRIDGE:-lcft0}"
ARM_BRIDGE="${ARM_BRIDGE:-lcft1}"
pids="${STATE_DIR}/pids"

log() { printf '[cluster down] %s\n' "$*" >&2; }

# pid_of NAME: the recorded PID if it is alive and runs the recorded executable.
pid_of() {
  local pidf="${pids}/$1.pid" pid exe
  [[ -f "${pidf}" ]] || return 1
  pid="$(cat "${pidf}")"
  [[ -n "${pid}" && -d "/proc/${pid}" ]] || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  [[ "${exe}" == "$(cat "${pids}/$1.exe" 2>/dev/null)" ]] || return 1
  printf '%s' "${pid}"
}

# alive PID: running (a zombie waiting for PID 1 to reap it has stopped).
alive() { [[ -d "/proc/$1" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop NAME [SECONDS]: SIGTERM, wait up to SECONDS (10), then SIGKILL.
stop() {
  local name="$1" wait="${2:-10}" pid i start="${SECONDS}"
  pid="$(pid_of "${name}")" || { rm -f "${pids}/${name}.pid"; return 0; }
  kill -TERM "${pid}" 2>/dev/null
  for ((i = 0; i < wait * 5; i++)); do
    alive "${pid}" || break
    sleep 0.2
  done
  if alive "${pid}"; then
    log "${name} (pid ${pid}) did not stop on SIGTERM; killing"
    kill -KILL "${pid}" 2>/dev/null
    sleep 0.2
  fi
  log "stopped ${name} (pid ${pid}, $((SECONDS - start))s)"
  rm -f "${pids}/${name}.pid"
}

# The kubelets first, so that they do not restart what we remove below.
stop kwok # clusters made before the emulated arm64 node
stop kubelet-arm64
stop kubelet

# clean_containerd NAME: kill and remove the containers of the cluster's
# containerd NAME (containerd or containerd-arm64) while it runs (this ends
# their shims, which containerd started); then kill shims still alive (e.g.
# containerd already gone), matched by the exact socket path in their own
# command line, never by a broad name.
clean_containerd() {
  local sock="${RUN_DIR}/$1.sock" t c p cmd
  if pid_of "$1" >/dev/null && [[ -S "${sock}" ]]; then
    ctr_() { timeout 20 ctr --address "${sock}" -n k8s.io "$@"; }
    mapfile -t tasks < <(ctr_ tasks ls -q 2>/dev/null)
    if ((${#tasks[@]})); then
      log "killing ${#tasks[@]} container task(s) of $1"
      for t in "${tasks[@]}"; do ctr_ tasks kill -s SIGKILL "${t}" >/dev/null 2>&1; done
      sleep 1
      for t in "${tasks[@]}"; do ctr_ tasks delete -f "${t}" >/dev/null 2>&1; done
    fi
    mapfile -t ctrs < <(ctr_ containers ls -q 2>/dev/null)
    for c in "${ctrs[@]}"; do ctr_ containers delete "${c}" >/dev/null 2>&1; done
  fi
  for p in /proc/[0-9]*; do
    cmd="$({ tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null)" || continue
    if [[ "${cmd}" == *containerd-shim*"-address ${sock} "* ]]; then
      log "killing leftover shim ${p#/proc/}"
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  stop "$1"
}
clean_containerd containerd
clean_containerd containerd-arm64
# SeaweedFS's filer keeps retrying to flush its metadata log for about 15 s
# after its volume server stopped; the store's data goes with STATE_DIR anyway.
stop seaweedfs 3
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd

# Mounts under our directories (deepest first): pod volumes (tmpfs, bind),
# container rootfs (overlay), network namespaces (nsfs), shm.
umount_under() {
  local dir="$1" m
  [[ -d "${dir}" ]] || return 0
  dir="$(cd "${dir}" && pwd -P)"
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v d="${dir}/" 'index($2 "/", d) == 1 || $2 == substr(d, 1, length(d) - 1) { print $2 }' /proc/self/mounts | sort -r -u)
    ((${#mounts[@]})) || return 0
    for m in "${mounts[@]}"; do
      m="$(printf '%b' "${m}")" # /proc/mounts escapes spaces as \040
      umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null
    done
  done
}
umount_under "${RUN_DIR}"
umount_under "${STATE_DIR}"

for br in "${BRIDGE}" "${ARM_BRIDGE}"; do
  if ip link show "${br}" >/dev/null 2>&1; then
    ip link delete "${br}" && log "deleted bridge ${br}"
  fi
done
# The arm64 kubelet's pod cgroups (empty once its containers are gone).
for d in /sys/fs/cgroup/*/lcft-arm64; do
  [[ -d "${d}" ]] && find "${d}" -depth -type d -exec rmdir {} + 2>/dev/null
done
# libcni's result cache for our network name (not configurable in containerd 1.6).
rm -f /var/lib/cni/results/lcft-cluster-* 2>/dev/null

rm -rf "${RUN_DIR}"
if [[ "${KEEP_STATE:-0}" == 1 ]]; then
  log "kept ${STATE_DIR}"
else
  rm -rf "${STATE_DIR}" && log "removed ${STATE_DIR}"
fi
