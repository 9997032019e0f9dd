"""Print a JSON snapshot of trees and files: every entry's lstat and ACL xattrs,
and a SHA-256 of regular files' content. Never follows a symlink.

Usage: python3 snapshot.py PATH [PATH ...]
"""
import hashlib
import json
import os
import stat
import sys

ACLS = ("system.posix_acl_access", "system.posix_acl_default")


def describe(path):
    st = os.lstat(path)
    entry = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "ino": st.st_ino}
    if stat.S_ISLNK(st.st_mode):
        entry["target"] = os.readlink(path)
        return entry
    for name in ACLS:
        try:
            entry[name] = os.getxattr(path, name, follow_symlinks=False).hex()
        except OSError:
            pass
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as handle:
            entry["sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return entry


snapshot = {}
for root in sys.argv[1:]:
    snapshot[root] = describe(root)
    if os.path.isdir(root) and not os.path.islink(root):
        for top, dirs, names in os.walk(root):
            for name in dirs + names:
                path = os.path.join(top, name)
                snapshot[path] = describe(path)
print(json.dumps(snapshot, sort_keys=True))
