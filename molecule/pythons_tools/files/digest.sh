#!/usr/bin/env bash
# digest.sh OUT PATH...: append to OUT one digest of everything below the PATHs: every
# entry's path, inode, mode and owner, and every non-directory's size and mtime (a
# download, an install or a rewritten file shows). Not the mtimes of directories: the
# role's probe makes and removes a temporary directory in each shared dir on every run,
# and uv its lock file in the tool dir. Not the state of incremental audits either
# (/var/lib/uvfleet/perms-state): every clean audit, the self-check's too, renews it.
# The listing the digest is made of is kept beside OUT as OUT.N (N: the digest's line in
# OUT), so that a test that finds two digests differ can show what changed.
set -euo pipefail
out="$1"
shift
n=1
if [ -e "$out" ]; then n=$(( $(wc -l < "$out") + 1 )); fi
find "$@" -path /var/lib/uvfleet/perms-state -prune -o \( -type d -printf '%p %i %m %u\n' \) -o -printf '%p %i %s %m %u %T@\n' \
  | sort > "$out.$n"
sha256sum < "$out.$n" | cut -d' ' -f1 >> "$out"
