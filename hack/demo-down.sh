#!/usr/bin/env bash
# Tear down what hack/demo.sh made: the Helm release and samples go with the
# cluster itself (hack/cluster/down.sh stops the processes up.sh recorded and
# removes bin/demo, including the artifacts PV's directory). Built binaries
# (bin/k8s, bin/kwok-*, bin/helm-*) and images (bin/images) are kept.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
exec "${repo_root}/hack/cluster/down.sh"
