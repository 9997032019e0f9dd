# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Privilege separation: root's work in member-writable trees runs as the worker account.

Root does only what needs root there: changing owners, groups and modes of other
users' entries through the engine's checked fds.  Everything else that acts in a tree
members can write (uv's ``cache prune``, which removes by path and follows a
directory a member swaps for a symlink while it runs) runs in a child process that
has become the unprivileged worker account of the shared role
(``uv_shared_worker_user``, ``worker_user`` in the node configuration): its uid, the
shared group as its only group, nothing else.  Such a child can do in the tree what
any member can, and nothing more: a swapped symlink leads it only where a member
could go anyway.

The model is OpenSSH's privilege separation: the part that needs root stays small
and the rest runs unprivileged (docs/security.md).
"""

from __future__ import absolute_import, division, print_function

import os
import pwd


class PrivsepError(Exception):
    """The worker account is missing or not what the role makes (the message says how to fix it)."""


class Worker(object):
    """The worker account: ``uid``, ``gid`` (the shared group, its only group) and ``name``."""

    def __init__(self, name, uid, gid):
        self.name = name
        self.uid = uid
        self.gid = gid

    def demote(self):
        """A ``preexec_fn`` for :class:`subprocess.Popen`: become the worker, irrevocably.

        ``setgroups([])`` first (drops root's supplementary groups), then the group, then
        the uid (real, effective and saved: there is no way back to root).
        """
        uid, gid = self.uid, self.gid

        def become_worker():
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
                os._exit(126)  # never run the command with privileges left over
        return become_worker


def worker(name, group_gid):
    """The worker account ``name``, checked: it exists, is not root, its primary group is the shared one.

    ``group_gid`` is the shared group's GID.  Anything else raises :class:`PrivsepError`
    with the fix (rerun the shared role, which creates the account).
    """
    if not name:
        raise PrivsepError('no worker account in the node configuration (worker_user); rerun the '
                           'uvfleet.uv.shared role, which creates it (uv_shared_worker_user)')
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PrivsepError('the worker account %s does not exist; rerun the uvfleet.uv.shared role, which '
                           'creates it (uv_shared_worker_user)' % name)
    if entry.pw_uid == 0:
        raise PrivsepError('the worker account %s has uid 0: root\'s jobs switch to it to drop root\'s '
                           'rights; give it a uid of its own (userdel it and rerun the role)' % name)
    if entry.pw_gid != group_gid:
        raise PrivsepError('the worker account %s has primary GID %d, not the shared group\'s %d; rerun the '
                           'uvfleet.uv.shared role' % (name, entry.pw_gid, group_gid))
    return Worker(name, entry.pw_uid, entry.pw_gid)
