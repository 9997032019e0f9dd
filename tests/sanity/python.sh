#!/usr/bin/env bash
# Print the path of a working python<VERSION> (e.g. 3.12): the newest
# /root/.pyenv/versions/<VERSION>.*, else one on PATH that runs (a pyenv shim for a
# version that is not selected does not). Exit 2 when there is none.
#   tests/sanity/python.sh VERSION
set -euo pipefail
version="$1"
pyenv=()
for found in /root/.pyenv/versions/"$version".*/bin/python"$version"; do
  [[ -e "$found" ]] && pyenv+=("$found")
done
for candidate in $(printf '%s\n' "${pyenv[@]}" | sort -rV) $(type -ap "python$version" || true); do
  if "$candidate" -c 'import sys' >/dev/null 2>&1; then echo "$candidate"; exit 0; fi
done
echo "python.sh: no working python$version (PATH, /root/.pyenv/versions); install Python $version" >&2
exit 2
