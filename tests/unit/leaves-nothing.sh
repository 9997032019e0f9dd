#!/usr/bin/env bash
# Run a unit-test command and fail if it left temporary trees of the tests behind in the
# temporary directory (e.g. a module-scoped fixture never torn down under ansible-test's
# forked runs: 1.3 GB each time).
#   tests/unit/leaves-nothing.sh COMMAND [ARG ...]
# A test process's directory (tests/unit/conftest.py's SESSION_TMP) names its process in
# .pid: one whose process still runs belongs to another run on this machine and is not
# counted; trees of the tests directly in the temporary directory always are.
set -uo pipefail
tmp="${TMPDIR:-/tmp}"
marker="$(mktemp "$tmp/uvfleet-marker.XXXXXX")"
trap 'rm -f "$marker"' EXIT
"$@"
code=$?
left=()
while IFS= read -r -d '' path; do
  if [[ "$(basename "$path")" == uvfleet-units-* ]]; then
    pid="$(cat "$path/.pid" 2>/dev/null)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && continue
  fi
  left+=("$path")
done < <(find "$tmp" -mindepth 1 -maxdepth 1 -newer "$marker" \
  \( -name 'uvfleet-units-*' -o -name 'perms-*' -o -name 'uvfdoc-*' -o -name 'verify-module-*' \) -print0)
if [[ ${#left[@]} -gt 0 ]]; then
  echo "FAILED: the unit tests left ${#left[@]} temporary tree(s) behind (every test temp path belongs under" \
       "tests/unit/conftest.py's SESSION_TMP, which is removed when the session ends):" >&2
  printf '  %s\n' "${left[@]}" >&2
  [[ $code -ne 0 ]] || code=1
fi
exit $code
