#!/bin/sh
# Build a Python distribution that `uv python install` accepts from the image's own
# interpreter, and a downloads JSON listing it (DESIGN.md, section 3): the shared
# Python dir can then be tested without reaching python-build-standalone.
# Usage: make-python-mirror.sh DIR   -> DIR/downloads.json, DIR/cpython-*.tar.gz
set -eu
dir="$1"
ver=$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
mm=${ver%.*}
major=${ver%%.*}
minor=${mm#*.}
patch=${ver##*.}
key="cpython-$ver-linux-x86_64-gnu"
[ -f "$dir/downloads.json" ] && exit 0
rm -rf "$dir/build"
mkdir -p "$dir/build/python/bin" "$dir/build/python/lib"
cp "/usr/bin/python$mm" "$dir/build/python/bin/"
ln -s "python$mm" "$dir/build/python/bin/python3"
ln -s "python$mm" "$dir/build/python/bin/python"
cp -a "/usr/lib/python$mm" "$dir/build/python/lib/"
# uv rejects absolute symlinks in a distribution (Debian's sitecustomize.py is one).
find "$dir/build" -type l -lname '/*' -delete
find "$dir/build" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$dir/build/python/lib/python$mm/EXTERNALLY-MANAGED"
tar -C "$dir/build" -czf "$dir/$key.tar.gz" python
rm -rf "$dir/build"
sha=$(sha256sum "$dir/$key.tar.gz" | cut -d' ' -f1)
cat > "$dir/downloads.json" <<JSON
{"$key": {"name": "cpython", "arch": {"family": "x86_64", "variant": null}, "os": "linux",
  "libc": "gnu", "major": $major, "minor": $minor, "patch": $patch, "prerelease": "",
  "url": "file://$dir/$key.tar.gz", "sha256": "$sha", "variant": null}}
JSON
echo "$key"
