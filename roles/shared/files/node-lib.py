# uvfleet.uv.shared: install the node command's library in one step.
#
#   python3 -I -c "<this file>" DEST [--check]   < {"name.py": "content", ...}
#
# Run by the role (tasks/node_command.yml) with the node's python3 as root, only when
# the installed library's checksum differs from the collection's. One transfer of every
# file instead of a copy task per file (20 files, two module runs each, on every node).
#
# DEST is the library's perms/ directory (root's, 0755, made by the task before). Each
# file whose content differs is written beside its name (O_CREAT|O_EXCL|O_NOFOLLOW,
# root, 0644), flushed and renamed over it, relative to DEST's fd: a reader sees the old
# file or the new one, never half of one. Names must be plain module names. With --check
# nothing is written. Prints one line per file written (or, with --check, to write).
import json
import os
import re
import sys

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")


def current(dfd, name):
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != 0 or st.st_mode & 0o7777 != 0o644:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


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


def main(argv):
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] != "--check"):
        sys.stderr.write("usage: node-lib.py DEST [--check] < bundle.json\n")
        return 2
    bundle = json.load(sys.stdin)
    bad = sorted(n for n in bundle if not NAME.match(n))
    if bad:
        sys.stderr.write("node-lib.py: refusing names that are not module names: %s\n" % ", ".join(bad))
        return 2
    dfd = os.open(argv[0], DIR_FLAGS)
    try:
        for name in sorted(bundle):
            data = bundle[name].encode("utf-8")
            if current(dfd, name) == data:
                continue
            if len(argv) == 1:
                install(dfd, name, data)
            print(name)
        if len(argv) == 1:
            os.fsync(dfd)
    finally:
        os.close(dfd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
