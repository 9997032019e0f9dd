# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove, as root, a directory tree that members could write (a retired shared Python or tool dir).

Root removes such a tree because members' own subdirectories (mode 0700, say) are
beyond anyone else; but the tree's names, types and shape are the members', and a
member may still be changing them while root removes.  So:

* the directory that holds the tree (its *parent*) and every directory above it must
  be root's and closed to writes (``perms.roots.open_checked`` checks the ancestors, this
  module the parent itself): nobody can swap the tree or its parent for another one;
* the tree's top is closed first (``fchown`` root:root, ``fchmod`` 0700 through its fd):
  from then on no path leads into it for anyone but root;
* every directory is entered with ``openat(O_DIRECTORY|O_NOFOLLOW|O_NONBLOCK)`` relative
  to the fd of the one above (``fileio.DIR_FLAGS``), everything else is removed by name
  with ``unlinkat`` relative to that fd: a symlink is removed, never followed; a
  directory swapped for a symlink fails the open and is removed as the link it has
  become; a fifo is never opened; a hardlink loses this name only;
* nothing on another file system or mount is entered (``mounts.probe``: another
  ``st_dev``, another mount ID, a mount root, an automount point, never triggered), so
  nothing is removed there; such a directory stays, reported;
* depth costs no more than ``MAX_DEPTH`` open fds: a directory found deeper is moved up
  to the top (``renameat`` within the tree) and removed from there;
* a member process still writing inside (a working directory or an open fd there) can
  add entries while root removes; ``PASSES`` passes at most, then what is left stays,
  closed to everyone but root, and is reported (the next run tries again).

``remove(parent, name)`` returns a dict: ``removed`` (entries removed), ``done`` (the
tree is gone), ``left`` (entries seen and not removed), ``other_fs`` (mounts inside,
not entered), ``errors`` (up to ``MAX_ERRORS`` messages, names escaped: ``escape.printable``).
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

from ..escape import printable
from ..fs import mounts
from ..fs.fileio import DIR_FLAGS, vanished_error
from ..perms.errors import PermsError
from ..perms.roots import open_checked

#: open directories (levels) at most; deeper directories are moved up to the top
MAX_DEPTH = 64
#: passes over what is left (a member may add entries while root removes)
PASSES = 3
#: rounds over what was moved up to the top (each one MAX_DEPTH levels): a tree MAX_DEPTH * MAX_ROUNDS deep
MAX_ROUNDS = 1000
MAX_ERRORS = 10
_FLATTENED = '.uvfleet-deep-%d-%d'


class RemoveError(Exception):
    """The tree cannot be removed safely (its parent or an ancestor can be changed by someone else)."""


class _Remover(object):

    def __init__(self, top_fd, dev, mnt_id):
        self.top_fd = top_fd
        self.dev = dev
        self.mnt_id = mnt_id
        self.removed = 0
        self.left = 0
        self.other_fs = 0
        self.errors = []
        self.flattened = 0
        self.moved = False
        self.rounds = 0

    def error(self, what, exc):
        self.left += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append('%s: %s' % (printable(what), exc.strerror or exc))

    def foreign_mount(self, fd, name, st):
        """Is the directory ``name`` (lstat ``st``) another file system or mount?  Never enters it."""
        if st.st_dev != self.dev:
            return True
        info = mounts.probe(fd, name)
        if info is None:
            return False
        return bool(info.automount or info.mount_root or info.dev != self.dev
                    or (self.mnt_id is not None and info.mnt_id != self.mnt_id))

    def clear(self, fd):
        """Unlink every entry of the directory ``fd`` that is not a directory; return the names of its directories."""
        subdirs = []
        try:
            entries = list(os.scandir(fd))
        except OSError as exc:
            self.error('(a directory)', exc)
            return subdirs
        for entry in entries:
            name = entry.name
            try:
                st = os.lstat(name, dir_fd=fd)
            except OSError as exc:
                if not vanished_error(exc):
                    self.error(name, exc)
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    foreign = self.foreign_mount(fd, name, st)
                except OSError as exc:
                    # renamed away since the lstat (a member swapping it): whatever is there now is the next pass's
                    if not vanished_error(exc):
                        self.error(name, exc)
                    continue
                if foreign:
                    self.other_fs += 1
                    self.left += 1
                else:
                    subdirs.append(name)
                continue
            try:
                os.unlink(name, dir_fd=fd)
                self.removed += 1
            except OSError as exc:
                if exc.errno == errno.EISDIR:
                    subdirs.append(name)  # became a directory since the lstat: removed as one
                elif not vanished_error(exc):
                    self.error(name, exc)
        return subdirs

    def enter(self, fd, name):
        """Open the subdirectory ``name`` of ``fd`` (O_NOFOLLOW); None when it is no longer a directory there."""
        try:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                # swapped for a symlink or a file since it was listed: remove what it is now
                try:
                    os.unlink(name, dir_fd=fd)
                    self.removed += 1
                except OSError as exc2:
                    if not vanished_error(exc2):
                        self.error(name, exc2)
            elif not vanished_error(exc):
                self.error(name, exc)
            return None
        if os.fstat(child).st_dev != self.dev:  # a mount appeared there since the probe
            os.close(child)
            self.other_fs += 1
            self.left += 1
            return None
        return child

    def flatten(self, fd, name):
        """Move the subdirectory ``name`` of ``fd`` to the top of the tree (it is removed from there)."""
        self.flattened += 1
        target = _FLATTENED % (os.getpid(), self.flattened)
        try:
            os.rename(name, target, src_dir_fd=fd, dst_dir_fd=self.top_fd)
            self.moved = True
        except OSError as exc:
            if not vanished_error(exc):
                self.error(name, exc)

    def empty(self):
        """One pass: remove everything below the top, deepest first.  True when the top is empty afterwards."""
        stack = [[self.top_fd, None, None]]  # fd, its name in the directory above, its subdirectories to do
        try:
            while stack:
                frame = stack[-1]
                if frame[2] is None:
                    frame[2] = self.clear(frame[0])
                if not frame[2] and frame[1] is None and self.moved and self.rounds < MAX_ROUNDS:
                    # the top is done with: what was moved up to it is next (each round is MAX_DEPTH shallower)
                    self.moved = False
                    self.rounds += 1
                    frame[2] = self.clear(frame[0])
                if frame[2]:
                    name = frame[2].pop()
                    if len(stack) >= MAX_DEPTH:
                        self.flatten(frame[0], name)
                        continue
                    child = self.enter(frame[0], name)
                    if child is not None:
                        stack.append([child, name, None])
                    continue
                stack.pop()
                if frame[1] is None:
                    continue
                os.close(frame[0])
                try:
                    os.rmdir(frame[1], dir_fd=stack[-1][0])
                    self.removed += 1
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) and not vanished_error(exc):
                        self.error(frame[1], exc)
        finally:
            for frame in stack[1:]:
                os.close(frame[0])
        try:
            return not os.listdir(self.top_fd)
        except OSError:
            return False


def _parent_check(parent, st):
    if st.st_uid != 0 or st.st_mode & 0o022:
        raise RemoveError('refusing to remove in %s: it can be changed by someone other than root (owner uid %d, '
                          'mode %04o), who could swap what is removed' % (parent, st.st_uid, stat.S_IMODE(st.st_mode)))


def remove(parent, name):
    """Remove ``parent/name`` and everything below it, safely as root (see the module docstring)."""
    if not name or name in ('.', '..') or '/' in name:
        raise ValueError('not a name in %s: %r' % (parent, name))
    norm = os.path.normpath(parent)
    if not norm.startswith('/'):
        raise ValueError('not an absolute path: %r' % (parent,))
    try:
        parent_fd, parent_st = open_checked(norm)
    except PermsError as exc:
        raise RemoveError(str(exc))
    out = {'removed': 0, 'done': False, 'left': 0, 'other_fs': 0, 'errors': []}
    try:
        _parent_check(parent, parent_st)
        try:
            top_fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if vanished_error(exc):
                out['done'] = True
                return out
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise RemoveError('cannot open %s/%s: %s' % (parent, printable(name), exc.strerror))
            os.unlink(name, dir_fd=parent_fd)  # not a directory (the parent is root's: nobody swapped it)
            out.update(removed=1, done=True)
            return out
        try:
            top_st = os.fstat(top_fd)
            if top_st.st_dev != parent_st.st_dev:
                raise RemoveError('%s/%s is a mount point: not removed' % (parent, printable(name)))
            # closed first: from now on no path leads into the tree for anyone but root
            os.fchown(top_fd, 0, 0)
            os.fchmod(top_fd, 0o700)
            info = mounts.probe(top_fd, '')
            remover = _Remover(top_fd, top_st.st_dev, info.mnt_id if info is not None else None)
            empty = False
            for _pass in range(PASSES):
                remover.left = 0
                remover.other_fs = 0
                empty = remover.empty()
                if empty:
                    break
        finally:
            os.close(top_fd)
        if empty:
            try:
                os.rmdir(name, dir_fd=parent_fd)
                remover.removed += 1
                out['done'] = True
            except OSError as exc:
                remover.error(name, exc)
        elif not remover.left:
            remover.left = 1  # entries added faster than they were removed: the tree stays
        out.update(removed=remover.removed, left=remover.left, other_fs=remover.other_fs, errors=remover.errors)
        return out
    finally:
        os.close(parent_fd)
