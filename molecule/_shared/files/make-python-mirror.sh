#!/bin/sh
# Build Python distributions that `uv python install` accepts and a downloads JSON
# listing them (DESIGN.md, section 3): the shared Python dir can then be tested
# without reaching python-build-standalone.
#
# Usage: make-python-mirror.sh DIR [DEB...]
#   -> DIR/downloads.json, DIR/cpython-*.tar.gz
# The first distribution is the image's own interpreter. DEB... are the .deb files
# of a second Debian CPython (python3.X-minimal, libpython3.X-minimal,
# libpython3.X-stdlib, ... of another Debian release): it becomes a second entry,
# so that install, upgrade and prune of two versions can be shown.
set -eu
dir="$1"; shift
[ -f "$dir/downloads.json" ] && exit 0
mkdir -p "$dir"
entries=''

# add ROOT: ROOT/usr/bin/python3.X and ROOT/usr/lib/python3.X become a distribution.
add() {
  root="$1"
  py=''
  for f in "$root"/usr/bin/python3.[0-9]*; do
    case "${f##*/}" in python3.*[!0-9.]*) ;; *) [ -n "$py" ] || py=$f ;; esac
  done
  mm=${py##*/python}
  ver=$("$py" -S -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  major=${ver%%.*}; minor=${mm#*.}; patch=${ver##*.}
  key="cpython-$ver-linux-x86_64-gnu"
  rm -rf "$dir/build"
  mkdir -p "$dir/build/python/bin" "$dir/build/python/lib"
  cp "$py" "$dir/build/python/bin/"
  ln -s "python$mm" "$dir/build/python/bin/python3"
  ln -s "python$mm" "$dir/build/python/bin/python"
  cp -a "$root/usr/lib/python$mm" "$dir/build/python/lib/"
  # uv rejects absolute symlinks in a distribution (Debian's sitecustomize.py is one).
  find "$dir/build" -type l -lname '/*' -delete
  find "$dir/build" -name __pycache__ -prune -exec rm -rf {} +
  rm -f "$dir/build/python/lib/python$mm/EXTERNALLY-MANAGED"
  tar -C "$dir/build" -czf "$dir/$key.tar.gz" python
  rm -rf "$dir/build"
  sha=$(sha256sum "$dir/$key.tar.gz" | cut -d' ' -f1)
  [ -z "$entries" ] || entries="$entries,
"
  entries="$entries\"$key\": {\"name\": \"cpython\", \"arch\": {\"family\": \"x86_64\", \"variant\": null}, \"os\": \"linux\",
  \"libc\": \"gnu\", \"major\": $major, \"minor\": $minor, \"patch\": $patch, \"prerelease\": \"\",
  \"url\": \"file://$dir/$key.tar.gz\", \"sha256\": \"$sha\", \"variant\": null}"
  echo "$key"
}

add /
if [ $# -gt 0 ]; then
  rm -rf "$dir/debroot"
  for deb in "$@"; do dpkg-deb -x "$deb" "$dir/debroot"; done
  add "$dir/debroot"
  rm -rf "$dir/debroot"
fi
printf '{%s}\n' "$entries" > "$dir/downloads.json"
