#!/usr/bin/env bash
# Run Molecule scenarios, MOLECULE_JOBS at a time (make molecule; docs/testing.md).
#
#   tests/molecule-scenarios.sh SCENARIO...
#
# Container and network names are fixed per scenario (uvfleet-<scenario>), so scenarios
# never share a container or an address and can run side by side; on a 2-core machine
# two at a time keep both cores busy (a scenario spends much of its time waiting for
# its nodes). Each scenario runs under /tmp/uvfleet-scenario-<scenario>.lock, the lock
# everyone takes by hand (docs/testing.md): a run of the same scenario from another
# checkout on this machine is waited for, not collided with. Scenarios start in the order
# given (make lists the longest first). Each one's output goes to
# build/molecule/<scenario>.log; a failed scenario's log is printed whole at the end,
# so that CI shows it. Exit status 0 only when every scenario passed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
jobs="${MOLECULE_JOBS:-2}"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "MOLECULE_JOBS must be a positive number, got '$jobs'" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 SCENARIO..." >&2; exit 2; }
logs=build/molecule
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.result "$logs"/*.locked

run_one() {
    local s="$1" start result waited
    start=$(date +%s)
    echo "=== molecule scenario $s started ($(date -u +%H:%M:%S)) ==="
    # The time is the scenario's own: from when its lock was taken.
    # shellcheck disable=SC2016  # $1 and $2 are the inner shell's
    if flock "/tmp/uvfleet-scenario-$s.lock" sh -c 'date +%s > "$1"; exec molecule test -s "$2"' \
            sh "$logs/$s.locked" "$s" >"$logs/$s.log" 2>&1; then
        result=passed
    else
        result=FAILED
        flock "/tmp/uvfleet-scenario-$s.lock" molecule destroy -s "$s" >>"$logs/$s.log" 2>&1 || true
    fi
    waited=$(( $(cat "$logs/$s.locked" 2>/dev/null || echo "$start") - start ))
    echo "$result $(( $(date +%s) - start - waited ))" >"$logs/$s.result"
    echo "=== scenario $s $result in $(( $(date +%s) - start - waited )) s$( [ "$waited" -gt 0 ] && echo " (after $waited s waiting for its lock)") ==="
}

start=$(date +%s)
running=0
for s in "$@"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$s" &
    running=$((running + 1))
done
wait

passed=0 failed=0 failures=""
for s in "$@"; do
    read -r result _secs <"$logs/$s.result" 2>/dev/null || result=FAILED
    if [ "$result" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures="$failures $s"; fi
done
for s in $failures; do
    echo "=================== log of the failed scenario $s ($logs/$s.log) ==================="
    cat "$logs/$s.log"
done
echo "--- molecule: $passed passed, $failed failed in $(( $(date +%s) - start )) s, $jobs at a time ---"
for s in "$@"; do echo "  $s: $(cat "$logs/$s.result" 2>/dev/null || echo 'FAILED ?') s"; done
[ -z "$failures" ] || echo "failed scenarios:$failures"
[ "$failed" -eq 0 ]
