#!/usr/bin/env bash
# Tear down what hack/demo.sh made: the Helm release, the samples, the
# Secrets and the object store go with the cluster itself (hack/cluster/down.sh
# stops the processes up.sh recorded, SeaweedFS included, and removes bin/demo
# with the store's data and access keys). Built binaries (bin/k8s,
# bin/weed-*, bin/helm-*) and images (bin/images) are kept.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
exec "${repo_root}/hack/cluster/down.sh"
