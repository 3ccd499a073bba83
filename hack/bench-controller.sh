#!/usr/bin/env bash
# Controller scale on envtest: the operator reconciles SMALL and then LARGE
# two-shard cohorts (the fake cluster answers shards with a fixed summary, so
# the trainer's time is left out) and prints the time per cohort of both and
# their ratio: the peer run is the small one, in the same process.
#
#   hack/bench-controller.sh [SMALL,LARGE]     (make bench-controller; default 20,200)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)" LCFT_SCALE="${1:-20,200}" \
  go test ./controllers -run '^TestControllerScale$' -count=1 -v -timeout 30m | grep -E 'controller scale|^(ok|FAIL|---)'
