#!/bin/sh
# uvfleet.uv.shared: probe the file system of each shared directory and give the
# directories that take POSIX ACLs their default ACL, in one pass.
#
#   shared-dirs.sh [--check] auto|required|off DIR[:read]...
#
# DIR:read is a directory the group only reads (a managed Python or tool dir):
# its default ACL gives the group and the mask r-x instead of rwx.
# Prints one JSON object with lists of directories:
#   acl       default ACLs can be set here        no_acl   they cannot
#   reflink   cp --reflink=always works here      missing  the directory does not exist (check mode)
#   changed   the default ACL was (--check: would be) set to
#             user::rwx group::rwx mask::rwx other::--- (named entries are kept)
# With "off" no ACL is read or written. The probe works in a private temporary
# directory inside each DIR and removes it again: nothing is left behind.
set -u
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
mode="$1"; shift
acl='' no_acl='' reflink='' missing='' changed=''
add() { # add LISTNAME DIR
  eval "cur=\$$1"
  if [ -n "$cur" ]; then cur="$cur, "; fi
  eval "$1=\"\$cur\\\"\$2\\\"\""
}
want_rw='user::rwx
group::rwx
mask::rwx
other::---'
want_ro='user::rwx
group::r-x
mask::r-x
other::---'
for arg in "$@"; do
  dir=${arg%:read}
  want=$want_rw
  [ "$dir" = "$arg" ] || want=$want_ro
  if [ ! -d "$dir" ]; then
    add missing "$dir"
    continue
  fi
  tmp=$(mktemp -d "$dir/.uvfleet-probe.XXXXXXXX") || { echo "cannot write in $dir" >&2; exit 1; }
  if [ "$mode" != off ] && command -v setfacl >/dev/null 2>&1 && setfacl -m d:m::rwx "$tmp" 2>/dev/null; then
    add acl "$dir"
    have=$(getfacl -c -d --absolute-names "$dir" 2>/dev/null | grep -E '^(user|group|mask|other)::')
    if [ "$have" != "$want" ]; then
      add changed "$dir"
      if [ "$check" = 0 ]; then
        g=$(echo "$want" | sed -n 's/^group:://p')
        setfacl -d -m "u::rwx,g::$g,m::$g,o::---" "$dir" || { rm -rf "$tmp"; exit 1; }
      fi
    fi
  elif [ "$mode" != off ]; then
    add no_acl "$dir"
  fi
  printf 'uvfleet reflink probe\n' > "$tmp/a"
  if cp --reflink=always "$tmp/a" "$tmp/b" 2>/dev/null; then
    add reflink "$dir"
  fi
  rm -rf "$tmp"
done
printf '{"acl": [%s], "no_acl": [%s], "reflink": [%s], "missing": [%s], "changed": [%s]}\n' \
  "$acl" "$no_acl" "$reflink" "$missing" "$changed"
