#!/usr/bin/env bash
# digest.sh OUT PATH...: append to OUT one digest of everything below the PATHs: every
# entry's path, inode, mode and owner, and every non-directory's size and mtime (a
# download, an install or a rewritten file shows). Not the mtimes of directories: the
# role's probe makes and removes a temporary directory in each shared dir on every run,
# and uv its lock file in the tool dir. Not the state of incremental audits either
# (/var/lib/uvfleet/perms-state): every clean audit, the self-check's too, renews it.
set -euo pipefail
out="$1"
shift
find "$@" -path /var/lib/uvfleet/perms-state -prune -o \( -type d -printf '%p %i %m %u\n' \) -o -printf '%p %i %s %m %u %T@\n' \
  | sort | sha256sum | cut -d' ' -f1 >> "$out"
