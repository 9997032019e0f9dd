#!/usr/bin/env bash
# Build the collection docsite (antsibull-docs + Sphinx, warnings as errors), offline.
#
#   tests/docsite/build.sh [DEST]     default DEST: build/docsite (HTML in DEST/build/html)
#
# Needs the pinned tools of requirements-dev.txt (antsibull-docs, sphinx,
# sphinx-ansible-theme) on PATH, pandoc, and ANSIBLE_COLLECTIONS_PATH pointing at a tree
# holding ansible_collections/uvfleet/uv (make layout).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dest="${1:-$repo/build/docsite}"

# The docsite pages are generated from docs/*.md: the committed ones must be current.
python3 "$here/md2rst.py" --check

# antsibull-docs checks the extra docs, links.yml and the plugin docs.
antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck "$repo"

rm -rf "$dest"
mkdir -p "$dest/site"
chmod 755 "$dest" "$dest/site"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
  --project uvfleet.uv --title 'uvfleet.uv: uv for many users' --html-short-title uvfleet.uv \
  --copyright 'uvfleet maintainers' --dest-dir "$dest/site" uvfleet.uv
# Offline: the one intersphinx inventory the generated pages use, written locally.
cat >> "$dest/site/conf.py" <<'CONF'

# uvfleet: no network at build time; the Ansible labels come from a local inventory
# (tests/docsite/inventory.py) that points at the real pages.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
CONF
python3 "$here/inventory.py" "$dest/site/ansible_devel.inv"  # relative to site/rst
# The figures the pages show (docs/figures/*.png, `![..](figures/x.png)` in docs/*.md)
# go into the Sphinx source beside the pages, after antsibull-docs has written them and
# before sphinx-build runs (which then checks and publishes them).
if compgen -G "$repo/docs/figures/*.png" >/dev/null; then
  sed -i "s|^# Build Sphinx site\$|mkdir -p rst/docsite/figures \&\& cp \"$repo\"/docs/figures/*.png rst/docsite/figures/\n&|" \
    "$dest/site/build.sh"
  grep -q '^mkdir -p rst/docsite/figures' "$dest/site/build.sh"
fi
(cd "$dest/site" && ./build.sh)
echo "docsite: $dest/site/build/html/index.html"
