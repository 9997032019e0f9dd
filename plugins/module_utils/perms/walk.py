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

    Counters: ``scanned`` (entries stat'ed, the root included), ``excluded``.
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
        dev = root_st.st_dev
        exclude = self.exclude
        max_depth = self.max_depth
        self.scanned += 1
        stack = [[root_fd, '', None]]
        S_ISREG = stat.S_ISREG
        S_ISLNK = stat.S_ISLNK
        S_ISDIR = stat.S_ISDIR
        ok_gid = self.ok_gid
        ok_modes = self.ok_modes
        try:
            yield (DIR, None, '', '', root_st, root_fd)
            while stack:
                frame = stack[-1]
                fd, prefix, subdirs = frame
                if subdirs is None:
                    subdirs = frame[2] = []
                    try:
                        scan = os.scandir(fd)
                    except OSError as exc:
                        scan = None
                        yield ((VANISHED if vanished_error(exc) else ERROR), fd, '', prefix.rstrip('/'), None, exc)
                    if scan is not None:
                        with scan:
                            for entry in scan:
                                name = entry.name
                                rel = prefix + name
                                if exclude is not None and exclude(rel):
                                    self.excluded += 1
                                    continue
                                try:
                                    if entry.is_dir(follow_symlinks=False):
                                        subdirs.append(name)
                                        continue
                                    st = entry.stat(follow_symlinks=False)
                                except OSError as exc:
                                    self.scanned += 1
                                    yield ((VANISHED if vanished_error(exc) else ERROR), fd, name, rel, None, exc)
                                    continue
                                self.scanned += 1
                                mode = st.st_mode
                                if mode in ok_modes and st.st_gid == ok_gid:
                                    continue
                                if S_ISREG(mode):
                                    yield (FILE, fd, name, rel, st, None)
                                elif S_ISLNK(mode):
                                    yield (LINK, fd, name, rel, st, None)
                                elif S_ISDIR(mode):
                                    # became a directory between readdir and stat
                                    self.scanned -= 1
                                    subdirs.append(name)
                                else:
                                    yield (SPECIAL, fd, name, rel, st, None)
                    subdirs.reverse()
                if subdirs:
                    name = subdirs.pop()
                    rel = prefix + name
                    self.scanned += 1
                    if len(stack) >= max_depth:
                        yield (TOO_DEEP, fd, name, rel, None, None)
                        continue
                    try:
                        cfd = os.open(name, DIR_FLAGS, dir_fd=fd)
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
                        st = os.fstat(cfd)
                    except OSError as exc:
                        os.close(cfd)
                        yield (ERROR, fd, name, rel, None, exc)
                        continue
                    if st.st_dev != dev:
                        os.close(cfd)
                        yield (OTHER_FS, fd, name, rel, st, None)
                        continue
                    stack.append([cfd, rel + '/', None])
                    yield (DIR, fd, name, rel, st, cfd)
                else:
                    stack.pop()
                    os.close(fd)
        finally:
            for frame in stack:
                try:
                    os.close(frame[0])
                except OSError:
                    pass
