# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roots of a run: refused by name, opened without following a symlink, their ACL support.

A root is refused when it is a system directory or inside a system tree (a repair would
hand it to the group), when a symlink is anywhere in its path, or when someone other
than root could swap one of its ancestors.  ``open_root`` returns the fd that was
checked, and that fd is what the engine walks.  The other trees symlinks may point into
(``link_roots``) are opened the same way; ``probe_root`` says whether a root's file
system has POSIX ACLs.  ``make_roots`` makes missing roots (``cache_perms`` ``create``) the
same way, and ``open_checked`` opens a root-only directory without the refusal by name
(the parent of a retired dir that ``pythons_tools.rmtree`` removes).
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

from ..fs import acl as aclmod
from ..fs import fileio
from ..fs import mounts
from ..fs import walk
from .errors import AclUnsupported, PermsError, RefusedRoot

#: Roots refused as such (their subdirectories are fine, e.g. /var/cache/uv, /opt/uv).
SYSTEM_DIRS = frozenset((
    '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32',
    '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp',
    '/usr', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/local', '/usr/local/bin',
    '/usr/local/lib', '/usr/local/sbin', '/usr/sbin', '/usr/share', '/var', '/var/cache', '/var/lib',
    '/var/log', '/var/spool', '/var/tmp',
))
#: System trees: refused with everything below them (a repair would hand them to the group).
SYSTEM_TREES = (
    '/bin', '/boot', '/dev', '/efi', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/root', '/run',
    '/sbin', '/snap', '/sys', '/usr', '/var/backups', '/var/lib/apt', '/var/lib/dpkg', '/var/lib/polkit-1',
    '/var/lib/private', '/var/lib/rpm', '/var/lib/sudo', '/var/lib/systemd', '/var/lib/ucf', '/var/log',
    '/var/mail', '/var/run', '/var/spool',
)
_ALLOWED_HINT = ('pass the shared tree itself, in a directory of its own outside the system trees, e.g. '
                 '/var/cache/uv, /opt/uv/python, /srv/uv/cache')


def _normalise_root(path):
    """Normalise a root path and refuse system directories and trees by name; return the normalised path."""
    if not path or not str(path).strip():
        raise RefusedRoot('empty path: pass the shared tree, e.g. /var/cache/uv')
    norm = os.path.normpath(os.path.abspath(str(path)))
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    if norm in SYSTEM_DIRS:
        raise RefusedRoot('refusing to work on system directory %s: %s' % (norm, _ALLOWED_HINT))
    for tree in SYSTEM_TREES:
        if norm.startswith(tree + '/'):
            raise RefusedRoot('refusing to work on %s: it is inside the system directory %s, which is refused with '
                              'everything below it; %s' % (norm, tree, _ALLOWED_HINT))
    return norm


def _writable_by_others(st):
    """Can someone other than root change entries of this directory (owner, group or others with w)?"""
    return st.st_uid != 0 or st.st_mode & 0o022


def ancestor_check(norm):
    """The check open_path runs on each component of a root path (``open_root``), and of any directory
    root keeps state in (the content check's record and quarantine): ancestors only root can change."""
    def check(parent_path, parent_st, name, st):
        if parent_st is None:
            return
        if parent_st.st_mode & stat.S_ISVTX and parent_st.st_uid == 0:
            # sticky: only the owner of an entry (and root) can rename or remove it
            if st.st_uid != 0:
                raise RefusedRoot('refusing %s: %s/%s is owned by uid %d in the sticky directory %s, so that user could '
                                  'swap it for another directory; make root its owner first, or %s'
                                  % (norm, parent_path.rstrip('/'), name, st.st_uid, parent_path, _ALLOWED_HINT))
        else:
            _refuse_open_ancestor(norm, parent_path, parent_st)
    return check


def _refuse_open_ancestor(norm, parent_path, parent_st):
    if _writable_by_others(parent_st):
        raise RefusedRoot('refusing %s: its ancestor %s (owner uid %d, mode %04o) can be changed by users other than '
                          'root, who could swap a directory on the way for another one; use a root whose '
                          'ancestors are owned by root and not group- or world-writable (%s)'
                          % (norm, parent_path, parent_st.st_uid, parent_st.st_mode & 0o7777, _ALLOWED_HINT))


def open_root(path):
    """Refuse or open one root: (normalised path, fd, st).

    The path is refused by name when it is a system directory or inside a system tree;
    then opened component by component from ``/`` with O_NOFOLLOW (a symlink anywhere
    in it is refused, never followed).  Each ancestor must be owned by root and not
    group- or world-writable, or be a root-owned sticky directory (``/tmp``) whose
    next component is owned by root: nobody but root can then swap a component.  The
    fd returned is the one that is walked: its (st_dev, st_ino) is what was checked.
    """
    norm = _normalise_root(path)
    fd, st = open_checked(norm)
    return norm, fd, st


def open_checked(norm):
    """Open the directory at the absolute, normalised path ``norm`` as ``open_root`` does, system directories
    included: component by component with O_NOFOLLOW, each ancestor root's and closed to others.  (fd, st);
    RefusedRoot when a component is a symlink or an ancestor can be changed by someone other than root.
    """
    try:
        fd, st = walk.open_path(norm, ancestor_check(norm))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _not_a_directory(norm)
        raise RefusedRoot('cannot use %s: %s; pass an existing directory' % (norm, exc.strerror))
    return fd, st


def _not_a_directory(norm):
    """The refusal of ``norm`` when opening it met ELOOP or ENOTDIR: a symlink (named) or a non-directory on the way."""
    link = _first_symlink(norm)
    if link is not None:
        return RefusedRoot('refusing %s: %s is a symlink; a path through a symlink could be swapped while we '
                           'work. Pass the real directory instead, after checking it is the tree you mean'
                           % (norm, link))
    return RefusedRoot('refusing %s: not a directory; pass the directory of the shared tree' % norm)


def make_roots(paths, dry_run=False):
    """Make the roots of ``paths`` that are missing, with their missing parents, as ``open_root`` opens them.

    Every path is refused by name first (system directories and trees); then opened
    component by component from ``/`` with O_NOFOLLOW, each existing ancestor root's
    and closed to others, and a missing component made with ``mkdirat`` relative to its
    checked parent: parents root 0755, the root itself root 0700 (closed until the
    repair gives it to the group).  A symlink anywhere is refused, never followed.
    ``dry_run``: nothing is made; the roots that would be are returned all the same.
    Returns the normalised roots made (or to be made), in order.  RefusedRoot before
    anything is made when any path is refused by name.
    """
    norms = [_normalise_root(path) for path in paths]
    made = []
    for norm in norms:
        if dry_run:
            if not os.path.lexists(norm):
                made.append(norm)
            continue
        parent, name = os.path.split(norm)
        try:
            fd, _st = walk.open_path(parent, ancestor_check(norm), create=0o755)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _not_a_directory(norm)
            raise RefusedRoot('cannot make %s: %s' % (norm, exc.strerror))
        try:
            pst = os.fstat(fd)
            if not (pst.st_mode & stat.S_ISVTX and pst.st_uid == 0):  # a sticky root dir: the new entry is root's
                _refuse_open_ancestor(norm, parent, pst)
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
                made.append(norm)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise RefusedRoot('cannot make %s: %s' % (norm, exc.strerror))
        finally:
            os.close(fd)
    return made


def _first_symlink(norm):
    """The first component of norm that is a symlink (for the message only; lstat, never followed)."""
    current = ''
    for name in [c for c in norm.split('/') if c]:
        current += '/' + name
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return current
        except OSError:
            return None
    return None


_ACL_SUPPORT = {}


def acl_supported(fd, st):
    """Does the file system of this directory fd support POSIX ACLs?  Cached per st_dev."""
    known = _ACL_SUPPORT.get(st.st_dev)
    if known is None:
        known = _ACL_SUPPORT[st.st_dev] = aclmod.probe(fd)
    return known


def open_link_roots(paths):
    """Open the other trees links may point into: [(path, fd, st, mount ID)]; missing ones are skipped."""
    out = []
    notes = []
    for path in paths or ():
        try:
            norm, fd, st = open_root(path)
        except RefusedRoot as exc:
            notes.append('link root not used: %s' % exc)
            continue
        if any(o[0] == norm for o in out):
            os.close(fd)
            continue
        info = mounts.probe(fd, '')
        out.append((norm, fd, st, info.mnt_id if info is not None else None))
    return out, notes


def probe_root(root, acl_option, fd=None, st=None):
    """ACL support of a root's file system; raises AclUnsupported when required and missing."""
    own = None
    try:
        if fd is None:
            try:
                own = fd = os.open(root, fileio.DIR_FLAGS)
                st = os.fstat(fd)
            except OSError as exc:
                raise RefusedRoot('cannot open %s: %s; pass an existing directory that is not a symlink' % (root, exc.strerror))
        try:
            supported = acl_supported(fd, st)
        except OSError as exc:
            raise PermsError('cannot probe ACL support on %s: %s' % (root, exc))
    finally:
        if own is not None:
            os.close(own)
    if not supported and acl_option == 'required':
        raise AclUnsupported('the file system of %s does not support POSIX ACLs and acl=required; '
                             'mount it with ACL support or use acl=auto to check mode bits only' % root)
    return bool(supported)
