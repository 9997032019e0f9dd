#!/usr/bin/env bash
# The managed-node Python floor of uvfleet.uv.cache_perms (3.7), tested for real: the
# module runs through `ansible localhost -m` (AnsiballZ, as on a node) with the oldest
# ansible-core of the matrix, the one that still drives Python 2.7 and 3.6 targets.
#   below the floor (3.6, 2.7): fails with the version found and the version needed
#   at the floor (3.7): audits a real directory
#   tests/sanity/python_floor.sh [VENV]   (default: the core-2.16 venv of the matrix)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$("$repo/tests/sanity/venv.sh" core-2.16)}"
export ANSIBLE_COLLECTIONS_PATH="$repo/build/collections" ANSIBLE_LOCALHOST_WARNING=false
passed=0 failed=0
tree="$(mktemp -d /var/tmp/uvfleet-floor.XXXXXX)"
trap 'rm -rf "$tree"' EXIT
chmod 0755 "$tree"   # others r-x: an audit finds others_perms, group_perms, ...

run() { # run PYTHON_VERSION: prints the module's one-line result
  local py
  py="$("$repo/tests/sanity/python.sh" "$1")"
  "$venv/bin/ansible" localhost -o -m uvfleet.uv.cache_perms -a "path=$tree group=0 repair=false" \
    -e "ansible_python_interpreter=$py" 2>&1 || true
}
check() { # check NAME CONDITION OUTPUT
  if [[ "$2" == yes ]]; then passed=$((passed + 1)); echo "ok: $1"
  else failed=$((failed + 1)); echo "FAILED: $1"; echo "$3" | cut -c1-600; fi
}
for old in 3.6 2.7; do
  out="$(run "$old")"
  full="$("$("$repo/tests/sanity/python.sh" "$old")" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  ok=no
  [[ "$out" == *"FAILED!"* && "$out" == *"needs Python 3.7 or newer"* && "$out" == *"found Python $full"* \
     && "$out" != *Traceback* ]] && ok=yes
  check "Python $full: fail_json names $full and 3.7" "$ok" "$out"
done
out="$(run 3.7)"
ok=no
[[ "$out" == *"SUCCESS"* && "$out" == *'"others_perms": 1'* && "$out" == *'"mode": "audit"'* ]] && ok=yes
check "Python 3.7: the module audits $tree" "$ok" "$out"
echo "python floor: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
