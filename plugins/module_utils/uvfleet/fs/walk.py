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
* The root is opened component by component from ``/`` with O_NOFOLLOW
  (``open_path``): no symlink anywhere in its path is followed, and the fd that
  was checked is the one walked (``Walker.root_fd`` pins it).
* Every way a second file system or a second view of one appears is reported and
  not entered (``OTHER_FS``): another ``st_dev`` (another file system, a btrfs
  subvolume), another mount ID on the same device (a bind mount), a mount root or
  an automount point.  A subdirectory is probed with ``statx(AT_NO_AUTOMOUNT)``
  before it is opened (``mounts.probe``, one call per directory), so an automount
  point is never triggered; without statx the mount table read at the start
  (``mounts.mount_points_below``) stands in.
* Entries that vanish while we walk are reported as such, not as errors.
* ``exclude_mode = 'mark'``: excluded entries are not dropped but yielded as
  ``EXCLUDED`` events (and excluded directories entered, their content marked
  too), so that the caller decides what an exclusion may not hide.
"""

from __future__ import absolute_import, division, print_function

import errno
import fnmatch
import os
import re
import stat

from . import mounts
from .acl import ACCESS as ACL_ACCESS
from .fileio import DIR_FLAGS, PATH_DIR_FLAGS, vanished_error
# content/check.py and content/quarantine.py take these from here (walk.FILE_FLAGS, ...)
from .fileio import FILE_FLAGS, O_CLOEXEC  # noqa: F401 pylint: disable=unused-import

DIR = 'dir'
FILE = 'file'
LINK = 'link'
SPECIAL = 'special'
VANISHED = 'vanished'
SWAPPED = 'swapped'
OTHER_FS = 'other_fs'
TOO_DEEP = 'too_deep'
ERROR = 'error'
#: parallel walk: the tasks handed out reached ``task_limit``; walk them before the walk goes on
TASKS = 'tasks'
#: exclude_mode 'mark': (EXCLUDED, parent_fd, name, rel, st, (event, extra)) for FILE/LINK/SPECIAL/DIR
EXCLUDED = 'excluded'

_NOT_A_DIR = frozenset((errno.ELOOP, errno.ENOTDIR))

DEFAULT_MAX_DEPTH = 256


def _partial_stat(info):
    """A stat_result for an entry that was probed and not opened (mode, ino, dev from statx; the rest 0)."""
    if info is None:
        return os.stat_result((stat.S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    return os.stat_result((info.mode, info.ino, info.dev, 0, 0, 0, 0, 0, 0, 0))


def open_path(path, check=None, create=None):
    """Open a directory by absolute path, component by component from ``/``, never following a symlink.

    Every component is opened with O_DIRECTORY|O_NOFOLLOW relative to the fd of
    the one before: a symlink anywhere in the path fails (ELOOP), it is never
    followed.  ``check(parent_path, parent_st, name, st)`` is called for each
    component once it is open (``parent_st`` None for ``/``) and may raise to
    refuse it.  ``create`` (a mode): a missing component is made with
    ``mkdirat`` relative to its checked parent, then opened and checked like the
    others.  Returns ``(fd, st)`` of the last component; OSError propagates.
    """
    if not path.startswith('/'):
        raise ValueError('not an absolute path: %r' % (path,))
    fd = os.open('/', DIR_FLAGS)
    try:
        st = os.fstat(fd)
        if check is not None:
            check(None, None, '/', st)
        current = ''
        for name in [c for c in path.split('/') if c]:
            if name in ('.', '..'):
                raise ValueError('path %r is not normalised' % (path,))
            made = False
            try:
                cfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if create is None or exc.errno != errno.ENOENT:
                    raise
                try:
                    os.mkdir(name, create, dir_fd=fd)
                    made = True
                except OSError as mkexc:
                    if mkexc.errno != errno.EEXIST:
                        raise
                cfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            try:
                cst = os.fstat(cfd)
                if check is not None:
                    check(current or '/', st, name, cst)
            except BaseException:
                os.close(cfd)
                if made:  # refused: what we made goes again
                    try:
                        os.rmdir(name, dir_fd=fd)
                    except OSError:
                        pass
                raise
            os.close(fd)
            fd = cfd
            current += '/' + name
            st = cst
    except BaseException:
        os.close(fd)
        raise
    return fd, st


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
      ``OTHER_FS``: ``st`` is the fstat, or (a mount recognised before opening it) a
      partial stat (mode, ino, dev from statx, the rest 0); the last field says why.
    * ``EXCLUDED`` (``exclude_mode = 'mark'`` only): ``(EXCLUDED, parent_fd, name, rel,
      st, (FILE|LINK|SPECIAL|DIR, fd or None))``; an excluded directory is entered like
      any other, and everything below it is EXCLUDED too.

    Counters: ``scanned`` (entries stat'ed, the root included), ``excluded``
    (both up to date once the iteration has ended or been closed).

    Parallel walk: when ``split`` is set (a callable ``(depth, fanout, seen) -> bool``:
    depth of a subdirectory, number of subdirectories of its parent, entries seen so
    far), a subdirectory for which it returns True is not entered: ``(parent_fd, name,
    rel, depth, excluded)`` is appended to ``tasks`` instead, and the parent's fd, opened
    and verified like any other, stays open in ``kept_fds`` (``close_kept`` closes
    them); with ``task_limit`` set, a ``TASKS`` event is yielded whenever that many
    tasks are pending, and the caller walks and clears them (bounded memory).
    ``walk_task(*task)`` then walks such a subtree, entering it with the same
    O_DIRECTORY|O_NOFOLLOW open relative to that fd (a forked worker inherits the fd;
    nothing is reopened by path).

    Three steps: ``_loop`` goes down and up the tree (an explicit stack, one frame per
    open directory), ``_list`` lists one directory (one stat per entry, the fast paths
    below), ``_enter`` opens a subdirectory on the root's mount (``mounts.Fence``).
    """

    def __init__(self, root, exclude=None, max_depth=DEFAULT_MAX_DEPTH):
        self.root = root
        self.exclude = exclude
        self.max_depth = max_depth
        self.scanned = 0
        self.excluded = 0
        self.root_stat = None
        #: an fd of the root opened and checked by the caller: walked (through a dup)
        #: instead of opening the path again, so what was checked is what is walked
        self.root_fd = None
        #: 'skip' (drop excluded entries, do not enter excluded directories) or
        #: 'mark' (yield them as EXCLUDED events and walk below excluded directories)
        self.exclude_mode = 'skip'
        #: the root's mount, and whether a subdirectory is on it (open_root notes it)
        self.fence = mounts.Fence()
        #: fast path: regular files whose st_gid is ok_gid and whose full
        #: st_mode is in ok_modes are counted but not yielded (the caller
        #: fills ok_modes with modes it has found compliant).
        self.ok_gid = None
        self.ok_modes = set()
        #: fast path where ACLs are used (None: off): regular files whose st_gid is
        #: ok_gid and whose (st_mode, raw access ACL, st_nlink == 1) is in ok_acl are
        #: counted but not yielded; the FILE events of the others carry ``(raw,)`` as
        #: their extra (None: not read).  The raw ACL is read with one lgetxattr of the bare
        #: name from the directory being listed, made the working directory with fchdir
        #: (once per directory listed, restored when the walk ends): the kernel resolves
        #: one component and never follows a final symlink.  So the consumer of the
        #: events must not change the working directory (nothing in this library does; a
        #: nested walk of tasks starts its own listing).
        self.ok_acl = None
        #: incremental run (``perms/incremental.py``): inode numbers of the directories remembered
        #: from the last clean run (None: a full run), and the ctime below which an entry of a
        #: remembered, unchanged directory keeps its verdict: its regular files are counted in
        #: ``unchanged`` and not yielded, its unchanged subdirectories get no DIR event
        self.known = None
        self.cutoff = 0.0
        self.unchanged = 0
        #: a set: the inode numbers of the directories entered that are not excluded are added to it
        self.seen_dirs = None
        self.split = None
        #: with split: a TASKS event is yielded whenever this many tasks are pending
        self.task_limit = None
        self.tasks = []
        self.kept_fds = []

    def open_root(self):
        """Open the root (a dup of ``root_fd``, else component by component without following
        a symlink, see ``open_path``); note its mount; return (fd, st)."""
        if self.root_fd is not None:
            fd = os.dup(self.root_fd)
            try:
                st = os.fstat(fd)
            except BaseException:
                os.close(fd)
                raise
        else:
            fd, st = open_path(os.path.normpath(os.path.abspath(self.root)))
        try:
            self.fence.note(fd, os.path.normpath(os.path.abspath(self.root)))
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
        if self.seen_dirs is not None:
            self.seen_dirs.add(root_st.st_ino)
        yield from self._loop([[root_fd, '', None, 1, 0, False, None, _known(self, root_st)]], root_st.st_dev, 0,
                              self.split)

    def walk_task(self, parent_fd, name, rel, depth, excluded=False, parent_known=False):
        """Walk the subtree ``name`` of the open directory ``parent_fd`` (left open), from its own DIR event on."""
        dev = self.root_stat.st_dev
        return self._loop([[parent_fd, rel[:len(rel) - len(name)], [name], 0, 1, False,
                            (name,) if excluded else None, parent_known]], dev, depth - 1, None)

    def close_kept(self):
        """Close the fds kept open for tasks."""
        while self.kept_fds:
            try:
                os.close(self.kept_fds.pop())
            except OSError:
                pass

    def _loop(self, stack, dev, base_depth, split):
        """Walk down and up from the frames on ``stack``; yields the events of everything below them.

        A frame: [fd, prefix, names of its subdirectories (None until listed), fd state,
        number of subdirectories, directory excluded (mark mode), names of its excluded
        subdirectories or None, remembered and unchanged (incremental: ``_known``)].
        fd state: 0 not ours (never closed), 1 ours, 2 ours and
        kept open for tasks.  ``cwd``, shared with ``_list``: [the working directory to go
        back to once this walk has changed it (an fd, or None), the ACL fast path still on].
        """
        max_depth = self.max_depth - base_depth
        tasks = self.tasks
        task_limit = self.task_limit
        scanned = 0
        cwd = [None, self.ok_acl is not None]
        try:
            while stack:
                frame = stack[-1]
                if frame[2] is None:
                    yield from self._list(frame, cwd)
                    frame[4] = len(frame[2])
                    frame[2].reverse()  # popped from the end: in the order listed
                subdirs = frame[2]
                if not subdirs:
                    stack.pop()
                    if frame[3] == 1:
                        os.close(frame[0])
                    elif frame[3] == 2:
                        self.kept_fds.append(frame[0])
                    continue
                fd = frame[0]
                name = subdirs.pop()
                rel = frame[1] + name
                depth = len(stack)
                child_excl = frame[5] or (frame[6] is not None and name in frame[6])
                if split is not None and split(depth + base_depth, frame[4], self.scanned + scanned):
                    tasks.append((fd, name, rel, depth + base_depth, child_excl, frame[7]))
                    if frame[3] == 1:
                        frame[3] = 2
                    if task_limit is not None and len(tasks) >= task_limit:
                        # the caller walks them now (their parents' fds are open) and empties the list
                        self.scanned += scanned
                        scanned = 0
                        yield (TASKS, fd, '', rel, None, None)
                    continue
                scanned += 1
                if depth >= max_depth:
                    yield (TOO_DEEP, fd, name, rel, None, None)
                    continue
                cfd, st = _enter(self.fence, fd, name, rel, dev)
                if cfd is None:
                    yield st  # the event that says why it was not entered
                    continue
                if not _push(self, stack, frame[7], cfd, rel, st, child_excl):
                    continue  # unchanged in a remembered, unchanged directory: keeps its verdict
                yield (EXCLUDED, fd, name, rel, st, (DIR, cfd)) if child_excl else (DIR, fd, name, rel, st, cfd)
        finally:
            self.scanned += scanned
            if cwd[0] is not None:
                try:
                    os.fchdir(cwd[0])
                finally:
                    os.close(cwd[0])
            for frame in stack:
                if frame[3] == 1:
                    try:
                        os.close(frame[0])
                    except OSError:
                        pass
                elif frame[3] == 2:
                    self.kept_fds.append(frame[0])

    def _list(self, frame, cwd):
        """List the directory of ``frame`` (yield its entries' events, keep its subdirectories): one stat each."""
        fd, prefix, inherited, known, cutoff = frame[0], frame[1], frame[5], frame[7], self.cutoff
        exclude, mark = self.exclude, self.exclude_mode == 'mark'
        ok_gid, ok_modes = self.ok_gid, self.ok_modes
        ok_acl = self.ok_acl if cwd[1] else None
        S_ISREG, S_ISLNK, S_ISDIR, getxattr = stat.S_ISREG, stat.S_ISLNK, stat.S_ISDIR, os.getxattr  # noqa: N806
        subdirs = frame[2] = []
        append = subdirs.append
        scanned = excluded = unchanged = 0
        here = False  # fd is the working directory (the ACL fast path reads names relative to it)
        scan = yield from _scandir(fd, prefix)
        try:
            for entry in scan:
                excl = inherited or (exclude is not None and exclude(prefix + entry.name))
                if excl and not mark:
                    excluded += 1
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        append(entry.name)
                        if excl:
                            _exclude_subdir(frame, entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    scanned += 1
                    yield ((VANISHED if vanished_error(exc) else ERROR), fd, entry.name, prefix + entry.name, None, exc)
                    continue
                scanned += 1
                mode = st.st_mode
                if known and st.st_ctime < cutoff and not excl and S_ISREG(mode):
                    unchanged += 1  # a regular file unchanged since the last clean run: keeps its verdict
                    continue
                if mode in ok_modes and st.st_gid == ok_gid and not excl:
                    continue
                name = entry.name
                acl = None
                if ok_acl is not None and not excl and S_ISREG(mode):
                    raw = False
                    try:
                        if not here:
                            if cwd[0] is None:
                                cwd[0] = os.open('.', PATH_DIR_FLAGS)
                            os.fchdir(fd)
                            here = True
                        raw = getxattr(name, ACL_ACCESS, follow_symlinks=False)
                    except OSError as exc:
                        if exc.errno == errno.ENODATA:
                            raw = None
                        elif cwd[0] is None:  # no working directory to come back to: no fast path
                            ok_acl = None
                            cwd[1] = False
                    if raw is not False:
                        if st.st_gid == ok_gid and (mode, raw, st.st_nlink == 1) in ok_acl:
                            continue
                        acl = (raw,)
                if S_ISREG(mode):
                    event = FILE
                elif S_ISLNK(mode):
                    event = LINK
                elif S_ISDIR(mode):  # became a directory between readdir and stat
                    scanned -= 1
                    append(name)
                    if excl:
                        _exclude_subdir(frame, name)
                    continue
                else:
                    event = SPECIAL
                yield (EXCLUDED, fd, name, prefix + name, st, (event, None)) if excl else \
                    (event, fd, name, prefix + name, st, acl)
        finally:
            if scan != ():
                scan.close()
            self.scanned += scanned
            self.excluded += excluded
            self.unchanged += unchanged


def _known(walker, st):
    """Incremental run: is this directory remembered and unchanged (its entries may keep their verdicts)?"""
    known = walker.known
    return known is not None and st.st_ctime < walker.cutoff and st.st_ino in known


def _push(walker, stack, parent_known, cfd, rel, st, excluded):
    """A subdirectory was entered: its frame goes on the stack.  False: it keeps its verdict (no DIR event)."""
    known = False
    if not excluded:
        if walker.seen_dirs is not None:
            walker.seen_dirs.add(st.st_ino)
        if walker.known is not None:
            known = _known(walker, st)
            if parent_known and st.st_ctime < walker.cutoff:
                walker.unchanged += 1
                stack.append([cfd, rel + '/', None, 1, 0, False, None, known])
                return False
    stack.append([cfd, rel + '/', None, 1, 0, excluded, None, known])
    return True


def _scandir(fd, prefix):
    """``os.scandir(fd)``, or () after yielding the event that says why it could not be listed."""
    try:
        return os.scandir(fd)
    except OSError as exc:
        yield ((VANISHED if vanished_error(exc) else ERROR), fd, '', prefix.rstrip('/'), None, exc)
        return ()


def _exclude_subdir(frame, name):
    """Mark mode: a subdirectory of frame that an exclusion matched (everything below it is excluded too)."""
    if frame[6] is None:
        frame[6] = set()
    frame[6].add(name)


def _enter(fence, fd, name, rel, dev):
    """The walk enters the subdirectory ``name`` of ``fd``: ``(its fd, its fstat)``, or ``(None, the event why not)``.

    Never entered: another file system or mount (probed before the open, and the
    fstat of what was opened checked again), a symlink or non-directory swapped in
    (O_NOFOLLOW), an entry gone meanwhile.
    """
    try:
        reason, info = fence.why_other(fd, name, rel, dev)
    except OSError as exc:
        return None, ((VANISHED if vanished_error(exc) else ERROR), fd, name, rel, None, exc)
    if reason is not None:
        return None, (OTHER_FS, fd, name, rel, _partial_stat(info), reason)
    try:
        cfd = os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if vanished_error(exc):
            event = VANISHED
        elif exc.errno in _NOT_A_DIR:
            event = SWAPPED
        else:
            event = ERROR
        return None, (event, fd, name, rel, None, exc)
    try:
        st = os.fstat(cfd)
    except OSError as exc:
        os.close(cfd)
        return None, (ERROR, fd, name, rel, None, exc)
    if st.st_dev != dev:
        os.close(cfd)
        return None, (OTHER_FS, fd, name, rel, st, 'mount point (st_dev %d)' % st.st_dev)
    if info is not None and st.st_ino != info.ino:
        # something was mounted on it, or it was swapped, between the probe and the open
        os.close(cfd)
        return None, (OTHER_FS, fd, name, rel, st, 'changed between probe and open (a mount appeared?)')
    return cfd, st
