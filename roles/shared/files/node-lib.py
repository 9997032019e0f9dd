# uvfleet.uv.shared: install the node command's library (a package tree) in one step.
#
#   python3 -I -c "<this file>" DEST [--check]           < {"uvfleet/fs/walk.py": "content", ...}
#   python3 -I -c "<this file>" DEST --prune [--check]   < ["uvfleet/fs/walk.py", ...]
#
# Run by the role (tasks/node_command.yml) with the node's python3 as root, only when the
# installed library's checksum differs from the collection's. One transfer of every file
# instead of a copy task per file (about 50 files, two module runs each, on every node).
#
# DEST is the library directory (root's, 0755, made by the task before). Names are paths
# relative to it whose directories are identifiers and whose last component is a module
# name ("uvfleet/fs/walk.py"); anything else is refused before anything is written.
# Everything happens relative to DEST's fd, never through a symlink: a missing directory
# is made (root, 0755; whatever a symlink or a file in its place is removed first), and
# each file whose content differs is written beside its name (O_CREAT|O_EXCL|O_NOFOLLOW,
# root, 0644), flushed and renamed over it: a reader sees the old file or the new one,
# never half of one. Prints one line per file written (with --check: to write).
#
# --prune (stdin: the names of the library) removes every other entry below DEST: the
# files and directories of an older layout (1.0.0 installed a flat perms/). The role
# runs it after the node command itself is replaced, so that a scheduled job starting
# meanwhile finds the library its command needs. __pycache__ directories are left
# alone (Python writes them; they never shadow a source that exists). Prints one line
# per entry removed (with --check: to remove), "removed NAME".
import json
import os
import re
import stat
import sys

O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC
NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | O_CLOEXEC
DIR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FILE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")
CACHE = "__pycache__"


def valid(name):
    parts = name.split("/")
    return bool(FILE_NAME.match(parts[-1])) and all(DIR_NAME.match(p) for p in parts[:-1])


def current(dfd, name):
    """The content of a root-owned regular file of mode 0644 (None: anything else, or missing)."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o7777 != 0o644:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def remove(dfd, name):
    """Remove the entry name of dfd, a directory with everything in it, never following a symlink."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except OSError:
        os.unlink(name, dir_fd=dfd)  # not a directory (a symlink to one included)
        return
    try:
        for entry in os.listdir(fd):
            remove(fd, entry)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


def enter(dfd, name, write):
    """The fd of the subdirectory name (made root's 0755, replacing anything else); None: missing and not write."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except OSError:
        if not write:
            return None
        try:
            remove(dfd, name)
        except FileNotFoundError:
            pass
        os.mkdir(name, 0o755, dir_fd=dfd)
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    st = os.fstat(fd)
    if write and (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (0, 0, 0o755):
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o755)
    return fd


def install(dfd, name, data):
    tmp = ".%s.%d.tmp" % (name, os.getpid())
    fd = os.open(tmp, NEW_FLAGS, 0o600, dir_fd=dfd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o644)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp, dir_fd=dfd)
        raise
    os.close(fd)
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)


def install_all(dest, bundle, write):
    """Write the files of bundle that differ; return their names."""
    done = []
    root = os.open(dest, DIR_FLAGS)
    try:
        for name in sorted(bundle):
            data = bundle[name].encode("utf-8")
            parts = name.split("/")
            fds = [root]
            try:
                for part in parts[:-1]:
                    fd = enter(fds[-1], part, write)
                    if fd is None:
                        break
                    fds.append(fd)
                missing = len(fds) < len(parts)
                if not missing and current(fds[-1], parts[-1]) == data:
                    continue
                if write:
                    install(fds[-1], parts[-1], data)
                    os.fsync(fds[-1])
                done.append(name)
            finally:
                for fd in fds[1:]:
                    os.close(fd)
    finally:
        os.close(root)
    return done


def prune(dfd, prefix, keep, write, removed):
    """Remove what is below dfd and not in keep (names and their directories); append what goes to removed."""
    for entry in sorted(os.listdir(dfd)):
        rel = prefix + entry
        if rel in keep:
            continue
        if rel + "/" in keep or entry == CACHE:
            try:
                fd = os.open(entry, DIR_FLAGS, dir_fd=dfd)
            except OSError:
                fd = None
            if fd is not None:
                try:
                    if entry != CACHE:
                        prune(fd, rel + "/", keep, write, removed)
                finally:
                    os.close(fd)
                continue
        removed.append(rel)
        if write:
            remove(dfd, entry)


def main(argv):
    args = [a for a in argv if a not in ("--check", "--prune")]
    if len(args) != 1 or len(set(argv)) != len(argv):
        sys.stderr.write("usage: node-lib.py DEST [--check] < bundle.json; node-lib.py DEST --prune [--check] < names.json\n")
        return 2
    write = "--check" not in argv
    names = json.load(sys.stdin)
    bad = sorted(n for n in names if not valid(n))
    if bad:
        sys.stderr.write("node-lib.py: refusing names that are not module paths: %s\n" % ", ".join(map(repr, bad)))
        return 2
    if "--prune" in argv:
        keep = set(names)
        for name in names:
            parts = name.split("/")
            keep.update("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
        root = os.open(args[0], DIR_FLAGS)
        removed = []
        try:
            prune(root, "", keep, write, removed)
            if write and removed:
                os.fsync(root)
        finally:
            os.close(root)
        for rel in removed:
            print("removed " + rel)
        return 0
    for name in install_all(args[0], names, write):
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
