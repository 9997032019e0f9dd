#!/bin/sh
# uvfleet.uv.shared: probe the file system of each shared directory for reflinks.
#
#   shared-dirs.sh DIR...
#
# Prints one JSON object with lists of directories:
#   reflink   cp --reflink=always works here      missing  the directory does not exist (check mode)
# The probe works in a private temporary directory inside each DIR and removes it
# again: nothing is left behind. (POSIX ACL support is asked of uvfleet.uv.cache_perms,
# which reads and writes ACLs itself: no setfacl, no acl package needed.)
set -u
reflink='' missing=''
add() { # add LISTNAME DIR
  eval "cur=\$$1"
  if [ -n "$cur" ]; then cur="$cur, "; fi
  eval "$1=\"\$cur\\\"\$2\\\"\""
}
for dir in "$@"; do
  if [ ! -d "$dir" ]; then
    add missing "$dir"
    continue
  fi
  tmp=$(mktemp -d "$dir/.uvfleet-probe.XXXXXXXX") || { echo "cannot write in $dir" >&2; exit 1; }
  printf 'uvfleet reflink probe\n' > "$tmp/a"
  if cp --reflink=always "$tmp/a" "$tmp/b" 2>/dev/null; then
    add reflink "$dir"
  fi
  rm -rf "$tmp"
done
printf '{"reflink": [%s], "missing": [%s]}\n' "$reflink" "$missing"
