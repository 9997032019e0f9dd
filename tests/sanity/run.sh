#!/usr/bin/env bash
# Run `ansible-test sanity` or `ansible-test units` on a copy of the collection laid out
# as ansible_collections/uvfleet/uv (ansible-test insists on that path).
#   tests/sanity/run.sh [sanity|units] [extra ansible-test arguments]
# VENV (default .venv) is the venv whose ansible-test runs; PYTHON_VERSION (default: that
# venv's Python) the Python the tests run on, in venvs ansible-test makes (--venv).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command=sanity
if [[ "${1:-}" == sanity || "${1:-}" == units ]]; then command="$1"; shift; fi
venv="$(cd "${VENV:-$repo/.venv}" && pwd)"
python="$venv/bin/python"
version="${PYTHON_VERSION:-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
core="$("$python" -c 'import ansible; print(ansible.__version__)')"
dest="$repo/build/ansible-test/$core/ansible_collections/uvfleet/uv"

# ansible-test looks python<version> up on PATH: the real interpreter, not a pyenv shim.
bindir="$repo/build/pythons"
mkdir -p "$bindir"
ln -sfn "$(readlink -f "$("$repo/tests/sanity/python.sh" "$version")")" "$bindir/python$version"

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
echo "=== ansible-test $command: ansible-core $core, Python $version ==="
# Units must leave no temporary trees behind (tests/unit/leaves-nothing.sh).
guard=()
[[ "$command" == units ]] && guard=(bash "$repo/tests/unit/leaves-nothing.sh")
PATH="$bindir:$venv/bin:$PATH" "${guard[@]}" "$venv/bin/ansible-test" "$command" --venv --python "$version" --color no "$@"
