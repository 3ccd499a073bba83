#!/usr/bin/env bash
# Build the project's images with hack/imagebuild (no Docker daemon, no base
# image): static binaries for linux/amd64 and linux/arm64, one layer each.
#
#   hack/imagebuild/images.sh [manager] [trainer] [pause] [hello]   (default: manager trainer)
#
# For each image NAME it writes, under IMAGES_DIR (default bin/images):
#   NAME.oci.tar     OCI layout tar with the multi-arch index
#                    -> ctr -n k8s.io images import --all-platforms NAME.oci.tar
#   NAME.docker.tar  `docker save` tarball of the host's platform
#                    -> ctr -n k8s.io images import NAME.docker.tar, docker load
#   NAME.digest      the digest of the multi-arch index (sha256:...)
#   NAME.OS-ARCH.docker.tar  (trainer and hello only) `docker save` tarball
#                    of every other platform in PLATFORMS (for example
#                    NAME.linux-arm64.docker.tar on an amd64 host): the
#                    emulated arm64 node's containerd imports it, so the image
#                    name resolves there to the arm64 manifest and its binary
#                    runs under qemu-user.
#
# The manager image also ships the kubectl plugin as /usr/local/bin/kubectl-lcft.
# Image references: ${IMAGE_REGISTRY}/lcft-operator:${IMAGE_TAG} (manager),
# .../lcft-trainer, .../lcft-pause (sandbox image), .../lcft-hello (smoke
# test); defaults localhost and dev.
# PLATFORMS=linux/amd64,linux/arm64 by default; MANAGER_PLATFORMS (default
# PLATFORMS) for the manager alone: the demo cluster runs the manager on its
# amd64 node only, so hack/demo.sh builds just that variant.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
IMAGES_DIR="${IMAGES_DIR:-${repo_root}/bin/images}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-localhost}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
PLATFORMS="${PLATFORMS:-linux/amd64,linux/arm64}"
MANAGER_PLATFORMS="${MANAGER_PLATFORMS:-${PLATFORMS}}"
host_platform="linux/$(go env GOARCH)"

log() { printf '%s\n' "images: $*" >&2; }

mkdir -p "${IMAGES_DIR}"
tool="$("${repo_root}/hack/imagebuild/tool.sh")"

# Stamp the manager and trainer with the same version the Makefile would use.
version="$(git -C "${repo_root}" describe --tags --always --dirty 2>/dev/null || echo dev)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "${repo_root}" log -1 --format=%ct 2>/dev/null || echo 0)}"

# image NAME REF DIR PKG ENTRY [EXTRA_PKG...]: EXTRA_PKGs ship in /usr/local/bin.
image() {
  local name="$1" ref="$2" dir="$3" pkg="$4" entry="$5" start="${SECONDS}" extra=() p plats=() PLATFORMS="${PLATFORMS}"
  shift 5
  [[ "${name}" == lcft-operator ]] && PLATFORMS="${MANAGER_PLATFORMS}"
  for p in "$@"; do extra+=(-extra "${p}"); done
  # Only the workloads of the emulated arm64 node need its archives.
  if [[ " lcft-trainer lcft-hello " == *" ${name} "* ]]; then
    IFS=, read -r -a plats <<<"${PLATFORMS}"
    for p in "${plats[@]}"; do
      [[ "${p}" == "${host_platform}" ]] || extra+=(-platform-archive "${p}=${IMAGES_DIR}/${name}.${p//\//-}.docker.tar")
    done
  fi
  log "building ${ref} (${PLATFORMS}) from ${pkg}${*:+ with $*}"
  "${tool}" -C "${dir}" -pkg "${pkg}" -entry "${entry}" -ref "${ref}" -platforms "${PLATFORMS}" "${extra[@]}" \
    -label "org.opencontainers.image.source=https://github.com/lcft-dev/lcft-operator" \
    -label "org.opencontainers.image.version=${version}" \
    -label "org.opencontainers.image.title=${name}" \
    -oci-archive "${IMAGES_DIR}/${name}.oci.tar" \
    -docker-archive "${IMAGES_DIR}/${name}.docker.tar" -docker-platform "${host_platform}" \
    >"${IMAGES_DIR}/${name}.digest"
  log "wrote ${IMAGES_DIR}/${name}.{oci,docker}.tar in $((SECONDS - start))s"
}

targets=("$@")
((${#targets[@]})) || targets=(manager trainer)
for t in "${targets[@]}"; do
  case "${t}" in
    manager) image lcft-operator "${IMAGE_REGISTRY}/lcft-operator:${IMAGE_TAG}" "${repo_root}" . manager ./cmd/kubectl-lcft ;;
    trainer) image lcft-trainer "${IMAGE_REGISTRY}/lcft-trainer:${IMAGE_TAG}" "${repo_root}" ./trainer/cmd/lcft-trainer lcft-trainer ;;
    pause) image lcft-pause "${IMAGE_REGISTRY}/lcft-pause:${IMAGE_TAG}" "${repo_root}/hack/imagebuild" ./pause pause ;;
    hello) image lcft-hello "${IMAGE_REGISTRY}/lcft-hello:${IMAGE_TAG}" "${repo_root}/hack/imagebuild" ./hello hello ;;
    *) log "unknown image '${t}' (manager, trainer, pause, hello)"; exit 2 ;;
  esac
done
