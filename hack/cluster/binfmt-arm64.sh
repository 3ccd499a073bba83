#!/usr/bin/env bash
# Make linux/arm64 ELF binaries run on this (amd64) host, in containers too:
# binfmt_misc hands them to Debian's qemu-aarch64-static with the flag F (the
# kernel opens the interpreter when it is registered, so a container whose
# root filesystem has no qemu can still run an arm64 binary). Idempotent;
# needs root. Used by hack/cluster/up.sh for the emulated arm64 node.
set -euo pipefail
log() { printf '%s\n' "binfmt-arm64: $*" >&2; }

[[ "$(uname -m)" == aarch64 ]] && exit 0
[[ "$(id -u)" == 0 ]] || { log "must run as root"; exit 1; }
qemu="$(command -v qemu-aarch64-static || true)"
[[ -n "${qemu}" ]] || { log "qemu-aarch64-static not found: install Debian's qemu-user-static"; exit 1; }
dir=/proc/sys/fs/binfmt_misc
if [[ ! -w "${dir}/register" ]]; then
  mount -t binfmt_misc binfmt_misc "${dir}" || { log "cannot mount binfmt_misc on ${dir}"; exit 1; }
fi
entry="${dir}/qemu-aarch64"
if [[ -f "${entry}" ]] && grep -q '^enabled' "${entry}" && grep -q '^flags: .*F' "${entry}"; then
  exit 0
fi
# Registered without F (or disabled): replace it.
[[ -f "${entry}" ]] && echo -1 >"${entry}"
# The ELF header of an aarch64 executable (e_machine 0xb7), as Debian's
# /usr/lib/binfmt.d/qemu-aarch64.conf matches it.
magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
printf ':qemu-aarch64:M::%s:%s:%s:F' "${magic}" "${mask}" "$(readlink -f "${qemu}")" >"${dir}/register"
grep -q '^flags: .*F' "${entry}" || { log "registering qemu-aarch64 with flag F failed: $(cat "${entry}")"; exit 1; }
log "registered $(readlink -f "${qemu}") for linux/arm64 binaries (flag F)"
