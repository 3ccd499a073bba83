#!/usr/bin/env bash
# Run every Go fuzz target of the repository (func FuzzXxx in a *_test.go
# file tracked by git) for a fixed budget each: FUZZTIME (default 10000x,
# ten thousand executions). The budget is a count, not a duration: with a
# duration Go's fuzz coordinator can fail a clean run with "context deadline
# exceeded" when the deadline fires while a worker on a loaded machine is
# still mid-call (golang/go#75804, fixed in Go 1.27); a count has no
# deadline to race, and it makes the work the same on every machine.
# A failing input is written under the package's testdata/fuzz/<Target>/
# by `go test` and makes this script fail; commit it as a seed once fixed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime="${FUZZTIME:-10000x}"
targets=0
failed=()
while IFS=: read -r file target; do
  dir="./$(dirname "${file}")"
  targets=$((targets + 1))
  printf 'fuzz: %s %s for %s\n' "${dir}" "${target}" "${fuzztime}"
  # -parallel 2: the CI machine and the development one have 2 cores.
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "${fuzztime}" -parallel 2 "${dir}"; then
    failed+=("${dir} ${target}")
  fi
done < <(git ls-files -- '*_test.go' | xargs grep -oH '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func /:/' | sort)

if (( targets == 0 )); then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
if (( ${#failed[@]} > 0 )); then
  printf 'fuzz: failing target: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: ${targets} targets, ${fuzztime} each: no failures"
