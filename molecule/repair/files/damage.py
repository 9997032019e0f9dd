"""Damage a shared uv cache in known ways and print what an audit must find.

Usage: python3 damage.py CACHE GROUP

Each damaged entry gets exactly one kind of damage, chosen deterministically among
the real entries uv created, so that the expected count of every finding kind is
known. Prints JSON: {"findings": {kind: count}, "entries": {kind: [paths]}}.
"""
import json
import os
import stat
import subprocess
import sys

cache, group = sys.argv[1], sys.argv[2]
archive = os.path.join(cache, "archive-v0")

files, dirs = [], []
for top, subdirs, names in os.walk(archive):
    subdirs.sort()
    dirs.extend(os.path.join(top, d) for d in subdirs)
    for name in sorted(names):
        path = os.path.join(top, name)
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and not name.endswith(".lock"):
            files.append(path)

needed_files, needed_dirs = 13, 6
if len(files) < needed_files or len(dirs) < needed_dirs:
    sys.exit("cache too small to damage: %d files, %d dirs" % (len(files), len(dirs)))
# Spread the choice over the tree rather than taking neighbours.
files = files[:: max(1, len(files) // needed_files)][:needed_files]
dirs = dirs[:: max(1, len(dirs) // needed_dirs)][:needed_dirs]

entries = {}


def damage(kind, paths, action):
    for path in paths:
        action(path)
    entries.setdefault(kind, []).extend(paths)


def chmod(mode_fn):
    return lambda path: os.chmod(path, mode_fn(os.lstat(path).st_mode & 0o7777))


def has_access_acl(path):
    try:
        os.getxattr(path, "system.posix_acl_access", follow_symlinks=False)
    except OSError:
        return False
    return True


# Regular files. chmod 0600 on a file that carries an access ACL (inherited from the
# default ACL) sets its mask to ---: the engine reports that as acl_mask; on a file
# with mode bits only it is group_perms.
for path in files[0:5]:
    damage("acl_mask" if has_access_acl(path) else "group_perms", [path], chmod(lambda m: 0o600))
damage("wrong_group", files[5:9], lambda p: os.chown(p, -1, 0))
damage("world_writable", files[9:11], chmod(lambda m: m | 0o006))
damage("setuid_setgid", files[11:12], chmod(lambda m: m | 0o4000))
# A file born 0600 under the default ACL, as a temp file of another tool would be:
# its access ACL gets mask::---, which cuts the group entry.
born = os.path.join(os.path.dirname(files[12]), "born-0600.tmp")
subprocess.check_call(["runuser", "-u", "alice", "--", "python3", "-c",
                       "import os; os.close(os.open(%r, os.O_CREAT | os.O_WRONLY, 0o600))" % born])
entries.setdefault("acl_mask", []).append(born)

# Directories
damage("dir_not_setgid", dirs[0:3], chmod(lambda m: m & ~0o2000))
damage("default_acl_missing", dirs[3:5], lambda p: subprocess.check_call(["setfacl", "-k", p]))
damage("dir_sticky", dirs[5:6], chmod(lambda m: m | 0o1000))

# A symlink planted to a root-only file outside the tree, where a repair walks past it.
# Not inside an unpacked wheel: uv would copy it into every venv made from that wheel
# (the repair reports it and leaves it for the admin to remove).
evil = os.path.join(archive, "shadow-link")
os.symlink("/etc/shadow", evil)
entries["symlink_outside"] = [evil]

findings = {kind: len(paths) for kind, paths in entries.items()}
# o+rw on a file is two findings: others may read, and it is world-writable.
findings["others_perms"] = findings["world_writable"]
print(json.dumps({"findings": findings, "entries": entries}, sort_keys=True))
