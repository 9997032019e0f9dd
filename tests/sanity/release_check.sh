#!/usr/bin/env bash
# The release procedure (`make release` = changelogs/release.sh), cut for real on a
# scratch copy of this checkout, which stays untouched:
#   - without a release_summary fragment it refuses;
#   - it folds every fragment into changelogs/changelog.yaml and CHANGELOG.md under the
#     version of galaxy.yml, with the release summary, and removes the fragments;
#   - cutting the same version twice is refused;
#   - the released copy builds and passes galaxy-importer (tests/sanity/importer.sh).
#   tests/sanity/release_check.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
antsibull="${ANTSIBULL_CHANGELOG:-$repo/.venv/bin/antsibull-changelog}"
export ANTSIBULL_CHANGELOG="$antsibull"
scratch="$(mktemp -d /var/tmp/uvfleet-release.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0
check() { # check NAME yes|no [DETAIL]
  if [[ "$2" == yes ]]; then passed=$((passed + 1)); echo "ok: $1"
  else failed=$((failed + 1)); echo "FAILED: $1"; [[ -z "${3:-}" ]] || echo "$3" | head -n 20; fi
}
version="$(sed -n 's/^version:[[:space:]]*//p' "$repo/galaxy.yml")"
status_before="$(cd "$repo" && git status --porcelain)"
# After a release (its version is in changelog.yaml) the copies rehearse the next one:
# the next patch version, with a release summary for it.
copy() { # copy DEST: git's view of the checkout (tracked + untracked, not ignored)
  mkdir -p "$1"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$1")
  if grep -Eq "^  ['\"]?${released_version}['\"]?:" "$1/changelogs/changelog.yaml"; then
    sed -i "s/^version:.*/version: $version/" "$1/galaxy.yml"
    printf -- '---\nrelease_summary: Rehearsal of the next release by tests/sanity/release_check.sh.\n' \
      > "$1/changelogs/fragments/$version.yml"
  fi
}
released_version="$version"
if grep -Eq "^  ['\"]?${version}['\"]?:" "$repo/changelogs/changelog.yaml"; then
  version="${version%.*}.$(( ${version##*.} + 1 ))"
fi
copy "$scratch/fragments"
fragments=()
for f in "$scratch"/fragments/changelogs/fragments/*.yml; do fragments+=("$(basename "$f" .yml)"); done

# 1. No release_summary fragment: refused, nothing written.
copy "$scratch/nosummary"
grep -l '^release_summary:' "$scratch"/nosummary/changelogs/fragments/*.yml | xargs rm -f
out="$(bash "$scratch/nosummary/changelogs/release.sh" 2>&1)" && rc=0 || rc=$?
unchanged() { # CHANGELOG.md of copy $1 is the checkout's (or absent in both)
  if [[ -e "$repo/CHANGELOG.md" ]]; then cmp -s "$repo/CHANGELOG.md" "$1/CHANGELOG.md"; else [[ ! -e "$1/CHANGELOG.md" ]]; fi
}
ok=no; [[ $rc -ne 0 && "$out" == *"no release_summary fragment"* ]] && unchanged "$scratch/nosummary" && ok=yes
check "without a release_summary fragment the release is refused" "$ok" "$out"

# 2. The release itself.
copy "$scratch/rel"
out="$(bash "$scratch/rel/changelogs/release.sh" 2026-12-01 2>&1)" && rc=0 || rc=$?
check "changelogs/release.sh cuts $version" "$([[ $rc -eq 0 ]] && echo yes || echo no)" "$out"
md="$scratch/rel/CHANGELOG.md"
# the text of CHANGELOG.md without Markdown escapes and inline markup
plain="$(sed -e 's/\\//g' -e 's#</\?code>##g' -e 's#<a [^>]*></a>##g' -e 's/`//g' "$md" 2>/dev/null | tr -s ' \n' '  ' || true)"
ok=no; [[ "$plain" == *"## v$version ### Release Summary "* ]] && ok=yes
check "CHANGELOG.md has v$version with its release summary" "$ok" "$(head -n 30 "$md" 2>/dev/null)"
missing=""
for f in "${fragments[@]}"; do
  grep -Eq "^ +- $f\\.yml$" "$scratch/rel/changelogs/changelog.yaml" || missing="$missing $f"
done
check "changelog.yaml lists all ${#fragments[@]} fragments under $version" "$([[ -z "$missing" ]] && echo yes || echo no)" "missing:$missing"
# a sentence of each fragment's first entry reaches CHANGELOG.md (antsibull-changelog never
# renders the trivial section: a fragment with nothing else has no text to look for)
missing=""
for f in "${fragments[@]}"; do
  words="$("$repo/.venv/bin/python" - "$scratch/fragments/changelogs/fragments/$f.yml" <<'PY'
import sys, yaml
data = dict((k, v) for k, v in yaml.safe_load(open(sys.argv[1])).items() if k != 'trivial')
text = [v if isinstance(v, str) else v[0] for v in data.values()][0] if data else ''
print(' '.join(text.replace('``', '').split()[:4]))
PY
)"
  [[ -z "$words" || "$plain" == *"$words"* ]] || missing="$missing $f($words)"
done
check "every rendered fragment's text is in CHANGELOG.md" "$([[ -z "$missing" ]] && echo yes || echo no)" "missing:$missing"
out="$(cd "$scratch/rel" && python3 tests/docsite/md2rst.py --check 2>&1)" && rc=0 || rc=$?
ok=no; [[ $rc -eq 0 ]] && grep -q "v${version//./\\.}" "$scratch/rel/docs/docsite/rst/changelog.rst" && ok=yes
check "the docsite's changelog page shows $version (make docsite agrees)" "$ok" "$out"
left="$(find "$scratch/rel/changelogs/fragments" -name '*.yml' | wc -l)"
check "the fragments were folded in and removed" "$([[ $left -eq 0 ]] && echo yes || echo no)" "$left left"
out="$(bash "$scratch/rel/changelogs/release.sh" 2>&1)" && rc=0 || rc=$?
ok=no; [[ $rc -ne 0 && "$out" == *"already in changelogs/changelog.yaml"* ]] && ok=yes
check "cutting $version twice is refused" "$ok" "$out"
out="$(bash "$repo/tests/sanity/importer.sh" "$scratch/rel" "$scratch/dist" 2>&1)" && rc=0 || rc=$?
ok=no; [[ $rc -eq 0 ]] && [[ "$(tar -tzf "$scratch"/dist/uvfleet-uv-"$version".tar.gz)" == *$'\n'CHANGELOG.md$'\n'* ]] && ok=yes
check "the released collection (with CHANGELOG.md) passes galaxy-importer" "$ok" "$(echo "$out" | tail -n 15)"
check "the checkout itself was not touched" "$([[ "$(cd "$repo" && git status --porcelain)" == "$status_before" ]] && echo yes || echo no)"
echo "release procedure: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
