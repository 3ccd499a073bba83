#!/usr/bin/env bash
# Build (and cache) the envtest control-plane binaries, kube-apiserver and etcd,
# from Go modules instead of downloading release tarballs.
#
#   export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
#
# envtest runs the local cluster's own kube-apiserver and etcd: this is
# `hack/cluster/build.sh etcd kube-apiserver`, so one build serves `make test`
# and `make demo`/`make e2e` (the versions are pinned in hack/cluster/k8s/go.mod:
# Kubernetes 1.35, the last minor that supports Debian's containerd 1.6).
# Binaries go to bin/k8s/<version>/ and are kept in ~/.cache/lcft-operator
# (LCFT_CACHE_DIR), so a fresh clone links them. Progress goes to stderr;
# stdout gets only the absolute assets dir.
#
# Measured cold on 2 cores: kube-apiserver 316 s idle (an earlier 1.37 build)
# and 1658 s to 3509 s at load average 13-29; etcd 20 s idle.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
exec "${repo_root}/hack/cluster/build.sh" etcd kube-apiserver
