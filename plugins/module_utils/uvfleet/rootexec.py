# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What root may execute: a file only root can change, reached through directories only root can change.

Root runs the real ``uv`` and ``uvx`` (the shared role's installs and self-check, the
maintenance job's prune as its worker) and the node's Python.  A member who could write
such a file, or rename an entry in any directory on the way to it, could make root run
their code.  ``check_executable`` resolves a path one component at a time, following
symlinks by hand, and refuses unless every directory a name is looked up in is owned by
root and not writable by its group or others (a sticky directory such as ``/tmp`` is
refused too: its other users can still plant names in it), and the file is a regular,
executable file owned by root and not writable by its group or others.

Standard library only and self-contained (no imports of this package): the shared
role runs this file's source on the node (its tasks/real_uv.yml) before the library is
installed.
"""

from __future__ import absolute_import, division, print_function

import os
import stat

MAX_LINKS = 40


class UntrustedExecutable(Exception):
    """The path is not something root may run; the message says why and how to fix it."""


def _changeable(st):
    """Why users other than root could change this entry, or None."""
    if st.st_uid != 0:
        return 'is owned by uid %d, not root' % st.st_uid
    if st.st_mode & 0o022:
        return 'is writable by its group or others (mode %04o)' % stat.S_IMODE(st.st_mode)
    return None


def check_executable(path):
    """The resolved path of ``path`` when root may run it; raises UntrustedExecutable naming the entry at fault."""
    if not path.startswith('/'):
        raise UntrustedExecutable('%s is not an absolute path' % path)
    todo = [part for part in path.split('/') if part][::-1]
    current = '/'
    links = 0
    st = os.lstat('/')
    while True:
        if stat.S_ISDIR(st.st_mode):
            why = _changeable(st)
            if why:
                raise UntrustedExecutable('refusing to run %s as root: the directory %s on the way %s, so another user '
                                          'could put a program of theirs there' % (path, current, why))
        if not todo:
            break
        name = todo.pop()
        if name == '.':
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise UntrustedExecutable('cannot run %s: %s is not a directory' % (path, current))
        if name == '..':
            current = os.path.dirname(current)  # every directory up to current was checked on the way down
            st = os.lstat(current)
            continue
        entry = os.path.join(current, name)
        try:
            st = os.lstat(entry)
        except OSError as exc:
            raise UntrustedExecutable('cannot run %s: %s: %s' % (path, entry, exc.strerror))
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                raise UntrustedExecutable('cannot run %s: more than %d symlinks on the way' % (path, MAX_LINKS))
            target = os.readlink(entry)
            if target.startswith('/'):
                current = '/'
            todo.extend([part for part in target.split('/') if part][::-1])
            st = os.lstat(current)
            continue
        current = entry
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o100:
        raise UntrustedExecutable('cannot run %s: %s is not an executable regular file' % (path, current))
    why = _changeable(st)
    if why:
        raise UntrustedExecutable('refusing to run %s as root: %s %s, so another user could change what root runs'
                                  % (path, current, why))
    return current
