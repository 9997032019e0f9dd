# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of a Python walk: what any pure-Python engine costs before any policy.

One ``os.scandir`` per directory on an fd opened with O_DIRECTORY|O_NOFOLLOW
relative to its parent, one ``fstat`` per directory, one ``DirEntry.stat`` (fstatat,
no follow) per other entry, a mode/gid comparison per entry, nothing else.  With
``--jobs N`` the subtrees two levels down are split over N forked processes (the
shape a parallel engine walk would take).  Prints ``entries mismatches`` on stdout.

    python3 bench/floor.py TREE GID [--jobs 2]
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import stat
import sys

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)


def walk(dfd, gid, ok_modes):
    """Entries and mismatches below the open directory dfd (dfd is closed)."""
    n = bad = 0
    stack = [dfd]
    while stack:
        fd = stack.pop()
        subdirs = []
        with os.scandir(fd) as scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                    continue
                st = entry.stat(follow_symlinks=False)
                n += 1
                if st.st_gid != gid or st.st_mode not in ok_modes:
                    bad += 1
        for name in subdirs:
            try:
                cfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            st = os.fstat(cfd)
            n += 1
            if st.st_gid != gid or st.st_mode not in ok_modes:
                bad += 1
            stack.append(cfd)
        os.close(fd)
    return n, bad


def split(root, depth, want):
    """Directories `depth` levels down (relative paths) plus the count of entries above them."""
    level = ['']
    above = 1
    for _level in range(depth):
        nxt = []
        for rel in level:
            base = os.path.join(root, rel)
            with os.scandir(base) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False):
                        nxt.append(os.path.join(rel, entry.name))
                    else:
                        above += 1
        above += len(nxt)
        level = nxt
        if len(level) >= want:
            break
    return level, above


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    ap.add_argument('root')
    ap.add_argument('gid', type=int)
    ap.add_argument('--jobs', type=int, default=1)
    args = ap.parse_args(argv)
    ok_modes = frozenset((stat.S_IFDIR | 0o2770, stat.S_IFREG | 0o660, stat.S_IFREG | 0o770,
                          stat.S_IFLNK | 0o777))
    if args.jobs <= 1:
        n, bad = walk(os.open(args.root, DIR_FLAGS), args.gid, ok_modes)
        print(n + 1, bad)
        return 0
    subtrees, above = split(args.root, 2, 8 * args.jobs)
    readers = []
    for w in range(args.jobs):
        r, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            n = bad = 0
            for rel in subtrees[w::args.jobs]:
                a, b = walk(os.open(os.path.join(args.root, rel), DIR_FLAGS), args.gid, ok_modes)
                n += a
                bad += b
            os.write(wfd, ('%d %d' % (n, bad)).encode())
            os._exit(0)
        os.close(wfd)
        readers.append((pid, r))
    total, bad = above, 0
    for pid, r in readers:
        data = os.read(r, 100).split()
        os.close(r)
        os.waitpid(pid, 0)
        total += int(data[0])
        bad += int(data[1])
    print(total, bad)
    return 0


if __name__ == '__main__':
    sys.exit(main())
