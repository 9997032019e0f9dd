# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where does a symlink in the tree lead: inside, dangling or outside?  Decided hop by hop.

No path is ever resolved by the kernel as root (no ``realpath``, no ``stat`` that
follows a link): the target is taken apart component by component, and

* inside a known tree (the walked root, or one of the ``link_roots`` between which
  links are normal), each component is looked up from a directory fd opened with
  O_DIRECTORY|O_NOFOLLOW, starting from the walk's verified fds (the link's parent,
  the root); a component that is a symlink is read with ``readlinkat`` and its
  target spliced in (one hop); a component that is another mount (``mounts.probe``:
  statx with AT_NO_AUTOMOUNT, an automount point is never triggered) leaves the tree;
* on the way to a known tree (a proper ancestor of one, opened and checked at the
  start: not a symlink, writable by root only) ``..`` and names are taken lexically,
  which is what the kernel does there;
* anywhere else the target has left the known trees: nothing there is looked at.

The cost is bounded per link: at most ``MAX_HOPS`` (40, the kernel's limit) links
followed and ``MAX_LOOKUPS`` component lookups, each one or two system calls, and
the text handled is at most ``MAX_HOPS`` targets of at most ``PATH_MAX`` bytes.  A
link that exceeds a bound is ``UNRESOLVABLE`` (counted like a link that leaves the
tree, never taken as dangling).
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

from . import mounts
from .fileio import DIR_FLAGS

INSIDE = 'inside'
DANGLING = 'dangling'
OUTSIDE = 'outside'
UNRESOLVABLE = 'unresolvable'

MAX_HOPS = 40
MAX_LOOKUPS = 256
_GONE = frozenset(e for e in (errno.ENOENT, errno.ENOTDIR, getattr(errno, 'ESTALE', None)) if e is not None)
_SHOW = 300


def _parts(path):
    return [c for c in path.split('/') if c and c != '.']


def _show(components, rest=()):
    text = '/' + '/'.join(list(components) + list(rest))
    return text if len(text) <= _SHOW else text[:_SHOW] + '...'


class Resolver(object):
    """Resolve links of one walked root.

    ``roots``: list of (absolute path, fd, st_dev, mount ID or None, mount points below it
    from the mount table or None); the first root is the walked one.  Mount IDs come from
    statx; where there is none, the mount points read at the start stand in.  The fds are
    not owned (the caller closes them).
    """

    def __init__(self, roots):
        self.roots = {}
        self.ancestors = set()
        for path, fd, dev, mnt, below in roots:
            comps = tuple(_parts(path))
            if comps in self.roots:
                continue
            self.roots[comps] = (fd, dev, mnt, below or frozenset())
            for i in range(len(comps)):
                self.ancestors.add(comps[:i])

    def resolve(self, root, parent_fd, rel, target):
        """Verdict and detail for the link ``rel`` (relative to ``root``) in ``parent_fd``, whose text is ``target``."""
        state = _State(self, root, parent_fd, rel)
        try:
            return state.run(target)
        finally:
            state.close()


class _State(object):
    """One resolution: a position (absolute components) and, inside a known root, fds of its directories."""

    def __init__(self, resolver, root, parent_fd, rel):
        self.r = resolver
        self.root = tuple(_parts(root))
        fd, self.dev, self.mnt, self.below = resolver.roots[self.root]
        dirs = _parts(rel)[:-1]
        self.pos = list(self.root) + dirs
        self.base = len(self.root)
        # fds[k]: fd of pos[:base + k] or None (opened when needed); owned: fds we opened
        self.fds = [fd] + [None] * len(dirs)
        if dirs:
            self.fds[-1] = parent_fd
        self.owned = set()
        self.inside = True
        self.lookups = 0

    def close(self):
        for fd in self.owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self.owned.clear()

    def _drop_fds(self, keep):
        while len(self.fds) > keep:
            fd = self.fds.pop()
            if fd in self.owned:
                self.owned.discard(fd)
                os.close(fd)

    def _fd(self):
        """fd of the current position (inside a root), opening the missing levels from the nearest known one."""
        k = len(self.fds) - 1
        if self.fds[k] is not None:
            return self.fds[k]
        j = k
        while self.fds[j] is None:
            j -= 1
        fd = self.fds[j]
        for level in range(j + 1, k + 1):
            fd = os.open(self.pos[self.base + level - 1], DIR_FLAGS, dir_fd=fd)
            self.owned.add(fd)
            self.fds[level] = fd
        return fd

    def _enter_root(self, comps):
        fd, self.dev, self.mnt, self.below = self.r.roots[comps]
        self.root = comps
        self.base = len(comps)
        self._drop_fds(0)
        self.fds = [fd]
        self.inside = True

    def run(self, target):
        hops = 1
        todo = []
        pending = target
        while True:
            if pending is not None:
                if pending.startswith('/'):
                    self.pos = []
                    self.inside = False
                    self._drop_fds(0)
                    if () in self.r.roots:
                        self._enter_root(())
                todo.extend(reversed(_parts(pending)))
                pending = None
            if not todo:
                if self.inside:
                    return INSIDE, ''
                return OUTSIDE, 'resolves to %s, outside the tree' % _show(self.pos)
            name = todo.pop()
            if name == '..':
                if not self.pos:
                    continue
                if self.inside:
                    if len(self.pos) == self.base:
                        self.inside = False
                        self._drop_fds(0)
                    else:
                        self._drop_fds(len(self.fds) - 1)
                self.pos.pop()
                continue
            if not self.inside:
                comps = tuple(self.pos) + (name,)
                if comps in self.r.roots:
                    self.pos.append(name)
                    self._enter_root(comps)
                elif comps in self.r.ancestors:
                    self.pos.append(name)
                else:
                    return OUTSIDE, 'resolves to %s, outside the tree' % _show(self.pos + [name], reversed(todo))
                continue
            self.lookups += 1
            if self.lookups > MAX_LOOKUPS:
                return UNRESOLVABLE, 'unresolvable: more than %d path components to look up' % MAX_LOOKUPS
            try:
                dir_fd = self._fd()
                kind, why = self._lookup(dir_fd, name)
            except OSError as exc:
                if exc.errno in _GONE:
                    return DANGLING, 'missing: %s' % _show(self.pos + [name])
                return UNRESOLVABLE, 'unresolvable at %s: %s' % (_show(self.pos + [name]), exc.strerror or exc)
            if kind == 'mount':
                return OUTSIDE, 'crosses into another file system or mount at %s (%s)' % (_show(self.pos + [name]), why)
            if kind == 'link':
                hops += 1
                if hops > MAX_HOPS:
                    return UNRESOLVABLE, 'unresolvable: more than %d symlinks to follow' % MAX_HOPS
                try:
                    pending = os.readlink(name, dir_fd=dir_fd)
                except OSError as exc:
                    return UNRESOLVABLE, 'unresolvable at %s: %s' % (_show(self.pos + [name]), exc.strerror or exc)
                continue
            if not todo:
                return INSIDE, ''
            if kind != 'dir':
                return DANGLING, 'not a directory: %s' % _show(self.pos + [name])
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            self.owned.add(fd)
            self.fds.append(fd)
            self.pos.append(name)
            if self._moved(fd):
                return OUTSIDE, 'crosses into another file system or mount at %s' % _show(self.pos)

    def _lookup(self, dir_fd, name):
        """('link' | 'dir' | 'other' | 'mount', why) for a name in a directory fd, never following it."""
        info = mounts.probe(dir_fd, name)
        if info is None:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            mode, dev = st.st_mode, st.st_dev
            if self.below and stat.S_ISDIR(mode) and '/'.join(self.pos[self.base:] + [name]) in self.below:
                return 'mount', 'mount point in the mount table'

        else:
            mode, dev = info.mode, info.dev
            if stat.S_ISDIR(mode):
                if info.automount:
                    return 'mount', 'automount point'
                if info.mount_root or (self.mnt is not None and info.mnt_id != self.mnt):
                    return 'mount', 'mount ID %s' % info.mnt_id
        if stat.S_ISLNK(mode):
            return 'link', ''
        if dev != self.dev:
            return 'mount', 'st_dev %d' % dev
        return ('dir' if stat.S_ISDIR(mode) else 'other'), ''

    def _moved(self, fd):
        return os.fstat(fd).st_dev != self.dev
