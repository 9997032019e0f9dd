"""Damage the shared cache and the tool dir in known ways; plant an unreferenced cache entry.

Usage: python3 damage.py CACHE TOOL_DIR
Prints JSON: {"cache": {kind: n}, "tools": {kind: n}, "repaired": {dir: n},
              "orphan": path, "orphan_files": n, "planted": path, "paths": {kind: [paths]}}

Only regular files with one link and without any x bit are damaged (uv's 0771
executables are no finding: their shape must stay as uv made it), and only in
archive entries that a venv's install references (so that they survive the prune).
"""
import json
import os
import shutil
import stat
import subprocess
import sys

cache, tools = sys.argv[1], sys.argv[2]
archive = os.path.join(cache, "archive-v0")
entries = sorted(os.listdir(archive))

# An unreferenced entry, as a killed install or a member's copy leaves it: same
# owner, modes and ACLs as a real one (cp -a), so it is no finding, only garbage.
orphan = os.path.join(archive, "orphan-left-by-a-killed-install")
shutil.rmtree(orphan, ignore_errors=True)
subprocess.check_call(["cp", "-a", os.path.join(archive, entries[0]), orphan])
orphan_files = sum(len(names) for _t, _d, names in os.walk(orphan))


def plain_files(top):
    out = []
    for path, subdirs, names in os.walk(top):
        subdirs.sort()
        for name in sorted(names):
            full = os.path.join(path, name)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and not st.st_mode & 0o111 \
                    and not name.endswith(".lock"):
                out.append(full)
    return out


def subdirs(top):
    out = []
    for path, names, _files in os.walk(top):
        names.sort()
        out.extend(os.path.join(path, n) for n in names)
    return out


files, dirs = [], []
for entry in entries:
    files += plain_files(os.path.join(archive, entry))
    dirs += subdirs(os.path.join(archive, entry))
files = files[:: max(1, len(files) // 6)][:6]
dirs = dirs[:: max(1, len(dirs) // 3)][:3]
assert len(files) == 6 and len(dirs) == 3, (len(files), len(dirs))

paths = {}


def note(kind, path):
    paths.setdefault(kind, []).append(path)


for path in files[0:3]:
    # with an access ACL the group bits are its mask: the engine names it acl_mask
    kind = "acl_mask" if "system.posix_acl_access" in os.listxattr(path) else "group_perms"
    os.chmod(path, 0o600)
    note(kind, path)
for path in files[3:5]:
    os.chown(path, -1, 0)
    note("wrong_group", path)
os.chmod(files[5], os.lstat(files[5]).st_mode & 0o7777 | 0o004)
note("others_perms", files[5])
for path in dirs[0:2]:
    os.chmod(path, os.lstat(path).st_mode & 0o7777 & ~0o2000)
    note("dir_not_setgid", path)
subprocess.check_call(["setfacl", "-k", dirs[2]])
note("default_acl_missing", dirs[2])
# A member plants a symlink to a root-only file where root's job walks past it.
planted = os.path.join(archive, "shadow-link")
if not os.path.lexists(planted):
    os.symlink("/etc/shadow", planted)
note("symlink_outside", planted)

# The tool dir: one file of the tool's environment left to root's group.
tool_file = plain_files(tools)[0]
os.chown(tool_file, -1, 0)

cache_kinds = dict((kind, len(p)) for kind, p in paths.items())
print(json.dumps({
    "cache": cache_kinds,
    "tools": {"wrong_group": 1},
    "repaired": {cache: sum(n for k, n in cache_kinds.items() if k != "symlink_outside"), tools: 1},
    "orphan": orphan,
    "orphan_files": orphan_files,
    "planted": planted,
    "paths": dict(paths, tool_wrong_group=[tool_file]),
}, sort_keys=True))
