# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A symlink-safe, one-file-system, fd-based tree walk (in the spirit of os.fwalk and fts).

* Directories are entered only through ``os.open(name, O_DIRECTORY|O_NOFOLLOW, dir_fd=parent)``:
  a symlink (planted, or swapped in for a directory while we walk) makes the
  open fail, it is never followed.  The stat of a directory is the ``fstat`` of
  that fd, so what is checked and changed is exactly what was opened.
* Every other entry gets one ``fstatat(parent, name, AT_SYMLINK_NOFOLLOW)``
  (``DirEntry.stat(follow_symlinks=False)``); directories are recognised from
  ``d_type`` without a stat.  One stat per entry in all.
* The walk is iterative (an explicit stack, one open fd per level of the
  current path), lists one directory at a time and keeps only the names of its
  subdirectories: memory does not grow with the tree.
* Mount points (another ``st_dev``) are reported and not entered; entries that
  vanish while we walk are reported as such, not as errors.
"""

from __future__ import absolute_import, division, print_function

import errno
import fnmatch
import os
import re
import stat

DIR = 'dir'
FILE = 'file'
LINK = 'link'
SPECIAL = 'special'
VANISHED = 'vanished'
SWAPPED = 'swapped'
OTHER_FS = 'other_fs'
TOO_DEEP = 'too_deep'
ERROR = 'error'

O_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
O_NOCTTY = getattr(os, 'O_NOCTTY', 0)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC | getattr(os, 'O_NONBLOCK', 0)
#: flags to open a regular file for fchown/fchmod/fsetxattr: never follows a
#: symlink, never blocks (a fifo swapped in), never becomes a controlling tty.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | O_NOCTTY | O_CLOEXEC

_GONE = frozenset(e for e in (errno.ENOENT, getattr(errno, 'ESTALE', None)) if e is not None)
_NOT_A_DIR = frozenset((errno.ELOOP, errno.ENOTDIR))

DEFAULT_MAX_DEPTH = 256


def vanished_error(exc):
    """True when an OSError means the entry is gone (deleted or stale)."""
    return exc.errno in _GONE


def compile_excludes(patterns):
    """One matcher for glob patterns on paths relative to the root (None when there are none).

    Patterns use fnmatch syntax: ``*`` also matches ``/``; a leading ``./`` or
    ``/`` is ignored; a trailing ``/`` is ignored.
    """
    regexes = []
    for pattern in patterns or ():
        pattern = pattern.strip()
        while pattern.startswith('./'):
            pattern = pattern[2:]
        pattern = pattern.strip('/')
        if pattern:
            regexes.append(fnmatch.translate(pattern))
    if not regexes:
        return None
    return re.compile('|'.join('(?:%s)' % r for r in regexes)).match


class Walker(object):
    """Iterate over a tree as ``(event, parent_fd, name, rel, st, fd_or_exc)`` tuples.

    ``rel`` is the path relative to the root ('' for the root itself).

    * ``DIR``: ``st`` is the fstat of ``fd``, an fd opened with O_DIRECTORY|O_NOFOLLOW;
      it is valid until the next item is requested (the walker closes it).
      The root comes first, with ``parent_fd`` None.
    * ``FILE``/``LINK``/``SPECIAL``: ``st`` is the lstat (fstatat no-follow) of the entry.
    * ``VANISHED``/``SWAPPED``/``OTHER_FS``/``TOO_DEEP``/``ERROR``: the entry is
      skipped; ``st`` may be None; the last field holds the exception, if any.

    Counters: ``scanned`` (entries stat'ed, the root included), ``excluded``
    (both up to date once the iteration has ended or been closed).

    Parallel walk: when ``split`` is set (a callable ``(depth, fanout) -> bool``,
    depth of a subdirectory and number of subdirectories of its parent), a
    subdirectory for which it returns True is not entered: ``(parent_fd, name,
    rel, depth)`` is appended to ``tasks`` instead, and the parent's fd, opened
    and verified like any other, stays open in ``kept_fds`` (``close_kept``
    closes them).  ``walk_task(*task)`` then walks such a subtree, entering it
    with the same O_DIRECTORY|O_NOFOLLOW open relative to that fd (a forked
    worker inherits the fd; nothing is reopened by path).
    """

    def __init__(self, root, exclude=None, max_depth=DEFAULT_MAX_DEPTH):
        self.root = root
        self.exclude = exclude
        self.max_depth = max_depth
        self.scanned = 0
        self.excluded = 0
        self.root_stat = None
        #: fast path: regular files whose st_gid is ok_gid and whose full
        #: st_mode is in ok_modes are counted but not yielded (the caller
        #: fills ok_modes with modes it has found compliant).
        self.ok_gid = None
        self.ok_modes = set()
        self.split = None
        self.tasks = []
        self.kept_fds = []

    def open_root(self):
        """Open the root without following a symlink; return (fd, st)."""
        fd = os.open(self.root, DIR_FLAGS)
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        self.root_stat = st
        return fd, st

    def __iter__(self):
        """Open the root now (errors raise here), walk lazily."""
        root_fd, root_st = self.open_root()
        return self._walk(root_fd, root_st)

    def _walk(self, root_fd, root_st):
        self.scanned += 1
        try:
            yield (DIR, None, '', '', root_st, root_fd)
        except BaseException:
            os.close(root_fd)
            raise
        # frame: [fd, prefix, subdirs (None until listed), fd state, number of subdirs]
        # fd state: 0 not ours (never closed), 1 ours, 2 ours and kept open for tasks
        yield from self._loop([[root_fd, '', None, 1, 0]], root_st.st_dev, 0, self.split)

    def walk_task(self, parent_fd, name, rel, depth):
        """Walk the subtree ``name`` of the open directory ``parent_fd`` (left open), from its own DIR event on."""
        dev = self.root_stat.st_dev
        return self._loop([[parent_fd, rel[:len(rel) - len(name)], [name], 0, 1]], dev, depth - 1, None)

    def close_kept(self):
        """Close the fds kept open for tasks."""
        while self.kept_fds:
            try:
                os.close(self.kept_fds.pop())
            except OSError:
                pass

    def _loop(self, stack, dev, base_depth, split):
        exclude = self.exclude
        max_depth = self.max_depth - base_depth
        scanned = 0
        excluded = 0
        ok_gid = self.ok_gid
        ok_modes = self.ok_modes
        S_ISREG = stat.S_ISREG
        S_ISLNK = stat.S_ISLNK
        S_ISDIR = stat.S_ISDIR
        open_ = os.open
        fstat = os.fstat
        scandir = os.scandir
        try:
            while stack:
                frame = stack[-1]
                subdirs = frame[2]
                if subdirs is None:
                    fd = frame[0]
                    prefix = frame[1]
                    subdirs = frame[2] = []
                    append = subdirs.append
                    try:
                        scan = scandir(fd)
                    except OSError as exc:
                        scan = None
                        yield ((VANISHED if vanished_error(exc) else ERROR), fd, '', prefix.rstrip('/'), None, exc)
                    if scan is not None:
                        with scan:
                            for entry in scan:
                                if exclude is not None and exclude(prefix + entry.name):
                                    excluded += 1
                                    continue
                                try:
                                    if entry.is_dir(follow_symlinks=False):
                                        append(entry.name)
                                        continue
                                    st = entry.stat(follow_symlinks=False)
                                except OSError as exc:
                                    scanned += 1
                                    yield ((VANISHED if vanished_error(exc) else ERROR), fd, entry.name,
                                           prefix + entry.name, None, exc)
                                    continue
                                scanned += 1
                                mode = st.st_mode
                                if mode in ok_modes and st.st_gid == ok_gid:
                                    continue
                                name = entry.name
                                if S_ISREG(mode):
                                    yield (FILE, fd, name, prefix + name, st, None)
                                elif S_ISLNK(mode):
                                    yield (LINK, fd, name, prefix + name, st, None)
                                elif S_ISDIR(mode):
                                    # became a directory between readdir and stat
                                    scanned -= 1
                                    append(name)
                                else:
                                    yield (SPECIAL, fd, name, prefix + name, st, None)
                    frame[4] = len(subdirs)
                    subdirs.reverse()
                if subdirs:
                    fd = frame[0]
                    name = subdirs.pop()
                    rel = frame[1] + name
                    depth = len(stack)
                    if split is not None and split(depth + base_depth, frame[4]):
                        self.tasks.append((fd, name, rel, depth + base_depth))
                        if frame[3] == 1:
                            frame[3] = 2
                        continue
                    scanned += 1
                    if depth >= max_depth:
                        yield (TOO_DEEP, fd, name, rel, None, None)
                        continue
                    try:
                        cfd = open_(name, DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        if vanished_error(exc):
                            event = VANISHED
                        elif exc.errno in _NOT_A_DIR:
                            event = SWAPPED
                        else:
                            event = ERROR
                        yield (event, fd, name, rel, None, exc)
                        continue
                    try:
                        st = fstat(cfd)
                    except OSError as exc:
                        os.close(cfd)
                        yield (ERROR, fd, name, rel, None, exc)
                        continue
                    if st.st_dev != dev:
                        os.close(cfd)
                        yield (OTHER_FS, fd, name, rel, st, None)
                        continue
                    stack.append([cfd, rel + '/', None, 1, 0])
                    yield (DIR, fd, name, rel, st, cfd)
                else:
                    stack.pop()
                    state = frame[3]
                    if state == 1:
                        os.close(frame[0])
                    elif state == 2:
                        self.kept_fds.append(frame[0])
        finally:
            self.scanned += scanned
            self.excluded += excluded
            for frame in stack:
                if frame[3] == 1:
                    try:
                        os.close(frame[0])
                    except OSError:
                        pass
                elif frame[3] == 2:
                    self.kept_fds.append(frame[0])
