#!/usr/bin/env bash
# The operator at scale on envtest (make bench-controller): for each count of
# cohorts (default 1000 and 5000), a plain client creates the cohorts and
# their Jobs (the ceiling), then the manager binary, as a process of its own,
# turns the same number of new cohorts into Jobs on the same API server. It
# prints the time until every Job exists for both, their ratio, the
# create-to-Job latency (the operator's histogram), the manager's RSS and CPU
# time, and the load average. See TestControllerScale in
# controllers/scale_test.go.
#
#   hack/bench-controller.sh [COUNTS]          (default 1000,5000)
#
# Environment: LCFT_BENCH_WORKERS (workers per controller and of the ceiling,
# default 4), LCFT_BENCH_CREATORS (clients creating cohorts, default 8),
# LCFT_BENCH_MANAGER_ARGS (more manager flags, such as
# --pprof-bind-address=127.0.0.1:8082), LCFT_BENCH_TIMEOUT_MINUTES (per run,
# default 30), LCFT_BENCH_GOMEMLIMIT (the manager's GOMEMLIMIT; default what
# the chart's default values give, 90% of its 256Mi limit; "off": none).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p bin
go build -o bin/manager .
KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)" LCFT_BENCH_COHORTS="${1:-1000,5000}" LCFT_BENCH_MANAGER="$PWD/bin/manager" \
  go test ./controllers -run '^TestControllerScale$' -count=1 -v -timeout 120m 2>&1 |
  grep -E --line-buffered '^(controller scale|ceiling|operator|  API|\||ok|FAIL|---|panic)|scale_test.go|scale_proc_test.go'
