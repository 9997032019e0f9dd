#!/usr/bin/env bash
# Build the collection tarball as a user would (`ansible-galaxy collection build`) and
# run galaxy-importer on it, offline: the checks Galaxy and Automation Hub run on an
# upload (galaxy.yml, README, LICENSE, changelog, role READMEs, ansible-doc of every
# plugin, ansible-lint of the roles). Fails on any ERROR or WARNING it prints.
#   tests/sanity/importer.sh [SOURCE_DIR [OUT_DIR]]   default: this checkout, build/dist
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$("$repo/tests/sanity/venv.sh" importer)"
source_dir="${1:-$repo}"
out="${2:-$repo/build/dist}"
rm -rf "$out"
mkdir -p "$out"
"$venv/bin/ansible-galaxy" collection build --force --output-path "$out" "$source_dir" >/dev/null
tarball="$(ls "$out"/uvfleet-uv-*.tar.gz)"
echo "built $(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) entries"

# Every relative link of every Markdown page in the tarball points at a file in it.
"$venv/bin/python" - "$tarball" <<'PY'
import posixpath, re, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    names = set(n.rstrip('/') for n in tar.getnames())
    broken = []
    for name in sorted(n for n in names if n.endswith('.md')):
        text = tar.extractfile(name).read().decode()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            path = target.split('#')[0]
            if not path or re.match(r'^[a-z]+:', path):
                continue
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)).rstrip('/')
            if resolved not in names:
                broken.append('%s: %s' % (name, target))
if broken:
    sys.exit('links to files the built collection does not contain:\n  ' + '\n  '.join(broken))
print('Markdown links: every relative link resolves inside the tarball')
PY

# The settings Galaxy imports with, spelled out (offline: no container, no network).
export GALAXY_IMPORTER_CONFIG=/dev/null GALAXY_IMPORTER_RUN_ANSIBLE_DOC=true \
  GALAXY_IMPORTER_RUN_ANSIBLE_LINT=true GALAXY_IMPORTER_OFFLINE_ANSIBLE_LINT=true \
  GALAXY_IMPORTER_RUN_ANSIBLE_TEST=false GALAXY_IMPORTER_CHECK_CHANGELOG=true \
  GALAXY_IMPORTER_REQUIRE_V1_OR_GREATER=true GALAXY_IMPORTER_TMP_ROOT_DIR="$out"
log="$out/importer.log"
status=0
(cd "$out" && PATH="$venv/bin:$PATH" "$venv/bin/python" -m galaxy_importer.main "$tarball") >"$log" 2>&1 || status=$?
cat "$log"
# One warning cannot be avoided: Galaxy reports every tests/sanity/ignore-*.txt. Ours
# may hold only the shebang entries of the node commands in bin/ (a python3 shebang,
# which ansible-test does not know); the warning is accepted only while that is so.
other_ignores="$(cat "$source_dir"/tests/sanity/ignore-*.txt | grep -Ev '^bin/[A-Za-z0-9_-]+ shebang( #.*)?$' || true)"
problems="$(grep -E '(^|[^A-Za-z])(ERROR|WARNING)[: ]' "$log" \
  | grep -Ev '^WARNING: Ignore files skip ansible-test sanity tests, found ignore-2\.[0-9]+\.txt with [0-9]+ statement\(s\)$' || true)"
if [[ -n "$other_ignores" ]]; then
  problems="$problems${problems:+$'\n'}sanity ignore entries other than bin/* shebang: $other_ignores"
fi
if [[ $status -ne 0 || -n "$problems" ]]; then
  echo "galaxy-importer: FAILED (exit $status)"; [[ -z "$problems" ]] || printf '%s\n' "$problems"
  exit 1
fi
echo "galaxy-importer: passed: no error, no warning but the sanity ignore-file notes above"
