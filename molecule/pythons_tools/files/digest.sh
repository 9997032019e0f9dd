#!/usr/bin/env bash
# digest.sh OUT PATH...: append to OUT one digest of everything below the PATHs: every
# entry's path, inode, mode and owner, and every non-directory's size and mtime (a
# download, an install or a rewritten file shows). Not the mtimes of directories: the
# role's probe makes and removes a temporary directory in each shared dir on every run,
# and uv its lock file in the tool dir.
set -euo pipefail
out="$1"
shift
find "$@" \( -type d -printf '%p %i %m %u\n' \) -o -printf '%p %i %s %m %u %T@\n' | sort | sha256sum | cut -d' ' -f1 >> "$out"
