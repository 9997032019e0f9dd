#!/usr/bin/env bash
# Create (or reuse) one venv of requirements-matrix.txt under build/venvs/NAME and print
# its path. It is rebuilt when its line in requirements-matrix.txt changes.
#   tests/sanity/venv.sh NAME
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
name="$1"
line="$(awk -v n="$name" '$1 == n' "$repo/requirements-matrix.txt")"
[[ -n "$line" ]] || { echo "venv.sh: no venv '$name' in requirements-matrix.txt" >&2; exit 2; }
read -r _ version reqs <<<"$line"
if [[ "$reqs" == "@dev" ]]; then echo "$repo/.venv"; exit 0; fi   # made by `make venv`
venv="$repo/build/venvs/$name"
stamp="$venv/.stamp"
if [[ "$reqs" == *@dev-constraints* ]]; then
  # pip constraints take no extras: molecule-plugins[podman]==X -> molecule-plugins==X
  line="$line $(sha256sum "$repo/requirements-dev.txt" | cut -c1-16)"
  reqs="${reqs//@dev-constraints/-c $venv.constraints}"
fi
if [[ -f "$stamp" && "$(cat "$stamp")" == "$line" ]]; then echo "$venv"; exit 0; fi

python="$("$repo/tests/sanity/python.sh" "$version")"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
sed -E 's/\[[^]]*\]//' "$repo/requirements-dev.txt" > "$venv.constraints"
"$python" -m venv "$venv"
# shellcheck disable=SC2086  # the requirements are words
"$venv/bin/python" -m pip install -q --disable-pip-version-check $reqs >&2
echo "$line" > "$stamp"
echo "$venv"
