# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict on one state of an entry, and the words for it: pure, no system calls.

A state is what the walk saw of an entry (``st_mode``, its group, its decoded access and
default ACLs, whether others can reach it); a verdict is the finding kinds of that
state and what a repair would make of it (``(kinds, target mode, access ACL expected,
default ACL expected)``).  ``Judge`` asks the policy (``policy.py``); the engine
remembers each verdict per state, so a tree with millions of entries and few distinct
states is judged a few times (``entries.py``).
"""

from __future__ import absolute_import, division, print_function

import stat

from ..fs import acl as aclmod
from .kinds import (
    ACL_GROUP, ACL_MASK, ACL_NAMED, DEFAULT_ACL_MISSING, DEFAULT_ACL_WRONG, GROUP_PERMS, OTHERS_PERMS, SETUID_SETGID,
    WORLD_WRITABLE, WRONG_GROUP,
)
from .groups import principal_name
from .policy import mode_text, others_x_grants_nothing

#: kinds an exclusion never hides (for directories also world_writable)
_DANGEROUS = frozenset((SETUID_SETGID, ACL_NAMED))


def decode(raw_access, raw_default):
    """Decoded (access, default) ACL entries of raw xattr values (None stays None); AclError on bad data."""
    return (None if raw_access is None else aclmod.decode(raw_access),
            None if raw_default is None else aclmod.decode(raw_default))


def dangerous(kinds, is_dir):
    """Does an excluded entry with these finding kinds stay reported (and repaired)?"""
    for kind in kinds:
        if kind in _DANGEROUS or (is_dir and kind == WORLD_WRITABLE):
            return True
    return False


def special_text(mode):
    """What a non-regular, non-directory, non-symlink entry is: fifo, socket, character or block device."""
    if stat.S_ISFIFO(mode):
        return 'fifo'
    if stat.S_ISSOCK(mode):
        return 'socket'
    if stat.S_ISCHR(mode):
        return 'character device'
    if stat.S_ISBLK(mode):
        return 'block device'
    return 'special file (mode %o)' % mode


class Judge(object):
    """The policy's verdict on states of entries (``evaluate``), and the text of samples and diff lines."""

    def __init__(self, policy):
        self.policy = policy
        self.gid = policy.gid

    def evaluate(self, st, is_dir, access, default, root_closed, use_acl):
        """(kinds, target mode, access ACL expected, default ACL expected) of a state; ACLs are entries or None.

        ``root_closed``: others cannot search the root, so uv's others-x on a single-link
        file grants nothing (``policy.others_x_grants_nothing``); ``use_acl``: the root's
        file system has ACLs and the policy uses them (a directory needs its default ACL).
        """
        policy = self.policy
        if is_dir:
            target, kinds = policy.dir_mode(st.st_mode)
        else:
            target, kinds = policy.file_mode(st.st_mode)
        kinds = list(kinds)
        if OTHERS_PERMS in kinds and others_x_grants_nothing(st, root_closed):
            kinds.remove(OTHERS_PERMS)  # uv's mode | 0o111 behind a closed root (docs/maintenance.md)
            target |= 0o001
        if st.st_gid != self.gid:
            kinds.insert(0, WRONG_GROUP)
        access_expected = None
        default_expected = None
        if access is not None:
            akinds, access_expected = policy.access_acl(access, is_dir, st.st_mode & 0o7777)
            if ACL_MASK in akinds and GROUP_PERMS in kinds:
                kinds.remove(GROUP_PERMS)
            for kind in akinds:
                if kind not in kinds:
                    kinds.append(kind)
            if ACL_GROUP not in akinds:
                access_expected = None  # the chmod alone rewrites the mask
        if is_dir and use_acl:
            dkind, dexp = policy.default_acl(default)
            if dkind:
                kinds.append(dkind)
                default_expected = dexp
        if policy.foreign_named(access) or policy.foreign_named(default):
            # removed before any mask is raised (see repair.py): a dormant entry would wake up
            kinds.append(ACL_NAMED)
            if policy.foreign_named(access):
                access_expected = policy.without_foreign(access)
            if policy.foreign_named(default):
                default_expected = policy.default_acl(default)[1]
        return tuple(kinds), target, access_expected, default_expected

    def describe(self, kind, st, is_dir, verdict, access, default):
        """(current, expected) texts of one finding of a sample."""
        _kinds, target, access_expected, default_expected = verdict
        if kind == WRONG_GROUP:
            return 'group %d' % st.st_gid, 'group %d' % self.gid
        if kind == ACL_NAMED:
            return self.named_text(access, default), (
                'no named ACL entry for users or groups outside group %d (members, the group and acl_allow only)'
                % self.gid)
        if kind in (DEFAULT_ACL_MISSING, DEFAULT_ACL_WRONG):
            return 'default ACL ' + aclmod.to_text(default), 'default ACL ' + aclmod.to_text(default_expected)
        if kind == ACL_GROUP:
            return 'ACL ' + aclmod.to_text(access), 'ACL ' + aclmod.to_text(access_expected)
        if kind == ACL_MASK:
            mask = aclmod.get(access or (), aclmod.MASK)
            return ('mask::%s (%s)' % (aclmod.perm_text(mask or 0), mode_text(st.st_mode, is_dir)),
                    'mask::%s (%s)' % (aclmod.perm_text((target >> 3) & 7), mode_text(target, is_dir)))
        return mode_text(st.st_mode, is_dir), mode_text(target, is_dir)

    def named_text(self, access, default):
        """The named entries the policy refuses, with the principal's name, e.g. ``access ACL user:4545(carol):rwx``."""
        parts = []
        for label, entries in (('access ACL', access), ('default ACL', default)):
            bad = self.policy.foreign_named(entries)
            if not bad:
                continue
            mask = aclmod.get(entries, aclmod.MASK)
            texts = []
            for tag, perm, ident in bad:
                text = '%s:%d(%s):%s' % ('user' if tag == aclmod.USER else 'group', ident,
                                         principal_name(tag, ident), aclmod.perm_text(perm))
                if mask is not None and not perm & mask:
                    text += ' (dormant under mask::%s, wakes when a chmod raises the mask)' % aclmod.perm_text(mask)
                texts.append(text)
            parts.append('%s %s' % (label, ', '.join(texts)))
        return '; '.join(parts)

    @staticmethod
    def state_text(perm, gid, default, is_dir, use_acl):
        """One side of a diff line: ``mode 2770 group 4343 default ACL ...``."""
        text = 'mode %04o group %d' % (perm & 0o7777, gid)
        if is_dir and use_acl:
            text += ' default ACL ' + aclmod.to_text(default)
        return text
