#!/usr/bin/env bash
# ansible-test sanity and units on each ansible-core series of requirements-matrix.txt,
# each in its own venv (tests/sanity/venv.sh) on a Python that series supports.
#   tests/sanity/matrix.sh [SERIES ...]    e.g. 2.16 2.21; default: every core-* line
# One line per series and test with its result and wall time, then a summary line.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -gt 0 ]]; then series=("$@")
else mapfile -t series < <(awk '$1 ~ /^core-/ {sub(/^core-/, "", $1); print $1}' "$repo/requirements-matrix.txt")
fi
logs="$repo/build/matrix"
mkdir -p "$logs"
passed=0 failed=0 summary=()
start_all=$(date +%s)
for s in "${series[@]}"; do
  version="$(awk -v n="core-$s" '$1 == n {print $2}' "$repo/requirements-matrix.txt")"
  if ! venv="$("$repo/tests/sanity/venv.sh" "core-$s")"; then
    failed=$((failed + 1)); summary+=("ansible-core $s: venv FAILED"); continue
  fi
  core="$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')"
  for test in sanity units; do
    start=$(date +%s)
    log="$logs/$s-$test.log"
    if VENV="$venv" PYTHON_VERSION="$version" "$repo/tests/sanity/run.sh" "$test" >"$log" 2>&1; then
      result=passed; passed=$((passed + 1))
    else
      result=FAILED; failed=$((failed + 1))
      grep -E '^(ERROR|FATAL)|^FAILED |[0-9]+ (passed|failed)' "$log" | tail -n 25
    fi
    counts="$(grep -Eo '[0-9]+ passed[^=]*' "$log" | paste -sd '+' - | sed 's/ in [0-9.]*s//g')"
    line="ansible-core $core (Python $version): $test $result in $(( $(date +%s) - start )) s${counts:+ ($counts)} [log: build/matrix/$s-$test.log]"
    echo "=== $line ==="
    summary+=("$line")
  done
done
echo "--- matrix summary ($(( $(date +%s) - start_all )) s) ---"
printf '%s\n' "${summary[@]}"
echo "matrix: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
