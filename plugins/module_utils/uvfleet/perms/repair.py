# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a verdict: change one entry through a verified fd, never by path.

A directory is changed through the O_DIRECTORY|O_NOFOLLOW fd the walk entered it with;
a regular file through an fd opened with ``fileio.FILE_FLAGS`` relative to its parent's
fd and checked against the (st_dev, st_ino) of the scan (a symlink or another file
swapped in meanwhile is left alone, and so is a hardlink of someone outside the group).
The order matters: ACLs first (a named entry the policy refuses goes before any chmod
raises the mask, which would wake it up), then the owning group, then the mode.
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import stat

from ..fs import acl as aclmod
from ..fs import fileio
from .kinds import ERROR, HARDLINK_FOREIGN, SWAPPED, VANISHED


class Fixer(object):
    """Repairs entries of one run (its policy, its idea of who is a member)."""

    def __init__(self, policy, is_member):
        self.policy = policy
        self.gid = policy.gid
        self.is_member = is_member

    def fix(self, parent_fd, name, st, fd, is_dir, verdict):
        """Apply the verdict ``(kinds, target, access_expected, default_expected)``.

        ``fd``: the directory's fd (None for a regular file, opened here).  Returns
        ``(None, '')`` when done, else ``(kind, detail)``: VANISHED, SWAPPED,
        HARDLINK_FOREIGN (left alone) or ERROR (a change failed).
        """
        _kinds, target, access_expected, default_expected = verdict
        own_fd = None
        try:
            if fd is None:
                try:
                    own_fd = fd = os.open(name, fileio.FILE_FLAGS, dir_fd=parent_fd)
                except OSError as exc:
                    if fileio.vanished_error(exc):
                        return VANISHED, 'vanished before repair'
                    if exc.errno == errno.ELOOP:
                        return SWAPPED, 'replaced by a symlink between scan and repair'
                    raise
                fst = os.fstat(fd)
                if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(fst.st_mode):
                    return SWAPPED, 'replaced by another entry between scan and repair'
                if fst.st_nlink > 1 and not self.is_member(fst.st_uid):
                    return HARDLINK_FOREIGN, 'nlink %d, owner uid %d is not a member of group %d' % (
                        fst.st_nlink, fst.st_uid, self.gid)
                if fst.st_mode != st.st_mode:
                    # changed since the scan (uv running): repair what is there now
                    target = self.policy.file_mode(fst.st_mode)[0]
                st = fst
            if access_expected is not None:
                # the ACL as it is now, without the named entries the policy refuses, the group's rights raised
                current = aclmod.read(fd, aclmod.ACCESS)
                if current is not None:
                    expected = self.policy.without_foreign(current)
                    raised = self.policy.access_acl(expected, is_dir, target)[1]
                    if raised is not None:
                        expected = raised
                    if expected != current:
                        aclmod.write(fd, aclmod.ACCESS, expected)
            if default_expected is not None:
                aclmod.write(fd, aclmod.DEFAULT, default_expected)
            if st.st_gid != self.gid:
                os.fchown(fd, -1, self.gid)
            if target != st.st_mode & 0o7777:
                os.fchmod(fd, target)
        except OSError as exc:
            if fileio.vanished_error(exc):
                return VANISHED, 'vanished during repair'
            return ERROR, 'repair failed: %s' % (exc.strerror or exc)
        finally:
            if own_fd is not None:
                os.close(own_fd)
        return None, ''
