#!/usr/bin/env bash
# Cut the release of the version in galaxy.yml (`make release`; docs/development.md):
# lint the fragments, check that a release_summary fragment exists and that the version
# is not released yet, then fold the fragments into changelogs/changelog.yaml and
# CHANGELOG.md with antsibull-changelog (the fragments are removed: keep_fragments false).
#   changelogs/release.sh [DATE]     DATE: YYYY-MM-DD, default today (UTC)
# ANTSIBULL_CHANGELOG: the antsibull-changelog command (default: the one on PATH).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
antsibull="${ANTSIBULL_CHANGELOG:-antsibull-changelog}"
# antsibull-changelog runs ansible-doc (to list new plugins): the one beside it.
if [[ "$antsibull" == */* ]]; then PATH="$(cd "$(dirname "$antsibull")" && pwd):$PATH"; fi
date="${1:-$(date -u +%F)}"
version="$(sed -n 's/^version:[[:space:]]*//p' galaxy.yml | tr -d "\"'")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "release: galaxy.yml version '$version' is not X.Y.Z" >&2; exit 2; }
if grep -Eq "^  ['\"]?${version}['\"]?:" changelogs/changelog.yaml; then
  echo "release: $version is already in changelogs/changelog.yaml; raise version in galaxy.yml first" >&2
  exit 2
fi
if ! grep -lq '^release_summary:' changelogs/fragments/*.y*ml 2>/dev/null; then
  echo "release: no release_summary fragment in changelogs/fragments/ (write changelogs/fragments/$version.yml)" >&2
  exit 2
fi
"$antsibull" lint
"$antsibull" release --version "$version" --date "$date"
# the docsite's changelog page is rendered from changelog.yaml (make docsite checks it)
python3 tests/docsite/md2rst.py
echo "released $version ($date): CHANGELOG.md and changelogs/changelog.yaml updated, fragments folded in."
echo "Next: review and commit them (git add -A CHANGELOG.md changelogs docs/docsite/rst), tag $version, build the collection."
