#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the collection laid out as
# ansible_collections/uvfleet/uv (ansible-test insists on that path).
#   tests/sanity/run.sh [extra ansible-test arguments]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="$venv/bin/python"
dest="$repo/build/sanity/ansible_collections/uvfleet/uv"

# The get-pip stand-in, under the name ansible-test looks for.
pip_version="$("$python" - <<'PY'
import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip='([^']+)'", inspect.getsource(r.get_venv_packages)).group(1))
PY
)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/tests/sanity/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

# A clean copy: git's view of the tree (tracked + untracked, not ignored files).
rm -rf "$dest"
mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$dest" 2>/dev/null) || true
(cd "$dest" && git init -q . && git add -A >/dev/null)

cd "$dest"
PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
