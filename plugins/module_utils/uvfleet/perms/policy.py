# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an entry of the shared tree should look like.

Pure functions of ``st_mode``, the group id and ACL entries: no system calls.
The default policy is what the ``shared`` role sets up:

* every entry belongs to the shared group;
* directories: setgid, group ``rwx``, others nothing, no sticky bit, and a
  default ACL ``user::rwx,group::rwx,mask::rwx,other::---``;
* named ACL entries (access and default ACLs, live or dormant under the mask) only
  for members of the group, the group itself and the principals of the allow-list
  (``acl_named``): any other one would give someone outside the group access, now or
  as soon as a chmod raises the mask;
* regular files: group ``rw`` plus ``x`` where the owner has ``x``, others
  nothing, no setuid/setgid; an access ACL must not cut the group's rights;
* nothing is ever world-writable.

``group_access='read'`` describes a read-only consumer tree (group ``r-x`` on
directories, ``r--``/``r-x`` on files, group write removed); ``others='read'``
lets others keep ``r`` and ``X``.

Mode checks are cached per distinct ``st_mode`` value: a tree has few of them.
"""

from __future__ import absolute_import, division, print_function

import stat

from ..fs import acl as aclmod
from .kinds import (
    ACL_GROUP, ACL_MASK, DEFAULT_ACL_MISSING, DEFAULT_ACL_WRONG, DIR_NOT_SETGID, DIR_STICKY,
    GROUP_PERMS, OTHERS_PERMS, SETUID_SETGID, WORLD_WRITABLE,
)

OTHERS_CHOICES = ('none', 'read')
GROUP_ACCESS_CHOICES = ('write', 'read')
ACL_CHOICES = ('auto', 'required', 'off')

_SUID_SGID = stat.S_ISUID | stat.S_ISGID


class PolicyError(ValueError):
    """An invalid policy option."""


class Policy(object):
    """Expected state of entries of one shared tree."""

    def __init__(self, gid, others='none', group_access='write', acl='auto', user_allowed=None, groups_allowed=()):
        if others not in OTHERS_CHOICES:
            raise PolicyError('others must be one of %s, got %r' % (', '.join(OTHERS_CHOICES), others))
        if group_access not in GROUP_ACCESS_CHOICES:
            raise PolicyError('group_access must be one of %s, got %r' % (', '.join(GROUP_ACCESS_CHOICES), group_access))
        if acl not in ACL_CHOICES:
            raise PolicyError('acl must be one of %s, got %r' % (', '.join(ACL_CHOICES), acl))
        self.gid = int(gid)
        #: named ACL entries allowed: user uids for which user_allowed(uid) is true (default: none),
        #: the group itself and the gids in groups_allowed
        self.user_allowed = user_allowed or (lambda uid: False)
        self.groups_allowed = frozenset(groups_allowed) | frozenset((self.gid,))
        self.others = others
        self.group_access = group_access
        self.acl = acl
        self.group_write = group_access == 'write'
        self.others_read = others == 'read'
        # group bits (3-bit) that must be present / must be absent
        self.dir_group_required = 7 if self.group_write else 5
        self.group_forbidden = 0 if self.group_write else 2
        self.dir_others_allowed = 5 if self.others_read else 0
        self._file_cache = {}
        self._dir_cache = {}

    # -- mode bits ---------------------------------------------------------

    def file_group_required(self, perm):
        """Group bits a regular file with this mode needs (x only where the owner has x)."""
        return (6 if self.group_write else 4) | (1 if perm & 0o100 else 0)

    def file_mode(self, mode):
        """(target permission bits, tuple of finding kinds) for a regular file's st_mode."""
        perm = mode & 0o7777
        cached = self._file_cache.get(perm)
        if cached is not None:
            return cached
        owner_x = 1 if perm & 0o100 else 0
        required = self.file_group_required(perm)
        allowed_o = (4 | owner_x) if self.others_read else 0
        kinds = []
        if perm & _SUID_SGID:
            kinds.append(SETUID_SETGID)
        result = self._group_and_others(perm, perm & ~_SUID_SGID, required, allowed_o, kinds)
        self._file_cache[perm] = result
        return result

    def dir_mode(self, mode):
        """(target permission bits, tuple of finding kinds) for a directory's st_mode."""
        perm = mode & 0o7777
        cached = self._dir_cache.get(perm)
        if cached is not None:
            return cached
        required = self.dir_group_required
        allowed_o = self.dir_others_allowed
        kinds = []
        if not perm & stat.S_ISGID:
            kinds.append(DIR_NOT_SETGID)
        if perm & stat.S_ISVTX:
            kinds.append(DIR_STICKY)
        target = (perm | stat.S_ISGID) & ~stat.S_ISVTX
        result = self._group_and_others(perm, target, required, allowed_o, kinds)
        self._dir_cache[perm] = result
        return result

    def _group_and_others(self, perm, target, required, allowed_o, kinds):
        """The group and others checks shared by files and directories.

        perm: current permission bits; target: perm with the type-specific special bits
        already fixed; required / allowed_o: group bits needed, others bits allowed.
        Appends to kinds; returns (target permission bits, tuple of kinds).
        """
        group = (perm >> 3) & 7
        if group & required != required or group & self.group_forbidden:
            kinds.append(GROUP_PERMS)
        if perm & 0o005 & ~allowed_o:
            kinds.append(OTHERS_PERMS)
        if perm & 0o002:
            kinds.append(WORLD_WRITABLE)
        target = (target | (required << 3)) & ~(self.group_forbidden << 3)
        target &= ~(0o007 & ~allowed_o)
        return target, tuple(kinds)

    # -- ACLs --------------------------------------------------------------

    def foreign_named(self, entries):
        """Named entries of an ACL that the policy does not allow (live or dormant), in ACL order."""
        if not entries:
            return []
        out = []
        for entry in entries:
            tag = entry[0]
            if tag == aclmod.USER:
                if not self.user_allowed(entry[2]):
                    out.append(entry)
            elif tag == aclmod.GROUP and entry[2] not in self.groups_allowed:
                out.append(entry)
        return out

    def without_foreign(self, entries):
        """The ACL without the named entries the policy does not allow (the mask is kept as it is)."""
        bad = set(self.foreign_named(entries))
        return [e for e in entries if e not in bad]

    def default_acl(self, entries):
        """Check a directory's default ACL (None = there is none).

        Returns (kind or None, expected entries).  Allowed named user/group entries
        are kept (the others are ``acl_named``, see ``foreign_named``); the mask and the owning group get the group's rights, the owner
        rwx, others at most what the policy allows.  A default ACL without named
        entries needs no mask entry (the repair writes one anyway).
        """
        required = self.dir_group_required
        bad = set(self.foreign_named(entries))
        named = [e for e in (entries or ()) if e[0] in (aclmod.USER, aclmod.GROUP) and e not in bad]
        if entries is None:
            other = self.dir_others_allowed
        else:
            other = aclmod.get(entries, aclmod.OTHER, 0) & self.dir_others_allowed
        expected = aclmod.normalize(named + [
            (aclmod.USER_OBJ, 7, aclmod.UNDEFINED_ID),
            (aclmod.GROUP_OBJ, required, aclmod.UNDEFINED_ID),
            (aclmod.MASK, required, aclmod.UNDEFINED_ID),
            (aclmod.OTHER, other, aclmod.UNDEFINED_ID),
        ])
        if entries is None:
            return DEFAULT_ACL_MISSING, expected
        mask = aclmod.get(entries, aclmod.MASK)
        good = (aclmod.get(entries, aclmod.USER_OBJ) == 7
                and aclmod.get(entries, aclmod.GROUP_OBJ) == required
                and (mask == required or (mask is None and not aclmod.has_named(entries)))
                and not aclmod.get(entries, aclmod.OTHER, 0) & ~self.dir_others_allowed)
        return (None if good else DEFAULT_ACL_WRONG), expected

    def access_acl(self, entries, is_dir, perm):
        """Check an access ACL read from a file or directory with permission bits perm.

        Returns (kinds, expected entries or None).  ``acl_mask``: the mask cuts
        the group's rights (it shows as the group bits of st_mode, so the mode
        check finds it first and a chmod repairs it).  ``acl_group``: the owning
        group's own entry lacks rights the group needs (invisible in st_mode).
        """
        if entries is None:
            return (), None
        required = self.dir_group_required if is_dir else self.file_group_required(perm)
        kinds = []
        mask = aclmod.get(entries, aclmod.MASK)
        gobj = aclmod.get(entries, aclmod.GROUP_OBJ, 0)
        if mask is not None and mask & required != required:
            kinds.append(ACL_MASK)
        if gobj & required != required:
            kinds.append(ACL_GROUP)
        if not kinds:
            return (), None
        expected = aclmod.replace(entries, aclmod.GROUP_OBJ, gobj | required)
        if mask is not None:
            expected = aclmod.replace(expected, aclmod.MASK, (mask | required) & ~self.group_forbidden)
        return tuple(kinds), expected


def closed_to_others(st, access):
    """A directory others cannot search: no ``x`` for others, no named ACL entry (access: entries or None)."""
    return not st.st_mode & 0o001 and not (access and aclmod.has_named(access))


def others_x_grants_nothing(st, root_closed):
    """True when others' ``x`` on this regular file is what uv does on purpose and grants nothing.

    uv makes every file it unpacks or generates executable with ``mode | 0o111``
    (console scripts, compiled extensions), whatever the umask or the default
    ACL says, so normal use leaves others' ``x`` on such files.  That bit grants
    others nothing when, and only when, they cannot reach the file:

    * ``root_closed``: the root of the walk denies others search (no ``x`` for
      others, no named ACL entry): no path below it resolves for others;
    * a regular file with one link (``st_nlink == 1``): no other name of it
      can sit in a directory others can search;
    * others have exactly ``x`` (no ``r``, no ``w``) and the owner has ``x``
      too: the shape of ``mode | 0o111``, nothing more;
    * no setuid/setgid bit: those are findings of their own, and ``x`` for
      others on such a file would be a privilege if it ever became reachable.

    Directories never qualify: a directory open to others is the door that
    would make everything below it reachable.  Only meaningful with
    ``others='none'`` (``others='read'`` allows ``x`` where the owner has it).
    """
    perm = st.st_mode & 0o7777
    return bool(root_closed and stat.S_ISREG(st.st_mode) and st.st_nlink == 1
                and perm & 0o007 == 0o001 and perm & 0o100 and not perm & _SUID_SGID)


def mode_text(perm, is_dir=False):
    """``0640 (rw-r-----)``-style text for samples."""
    chars = []
    for shift, special, schar in ((6, stat.S_ISUID, 's'), (3, stat.S_ISGID, 's'), (0, stat.S_ISVTX, 't')):
        bits = (perm >> shift) & 7
        chars.append('r' if bits & 4 else '-')
        chars.append('w' if bits & 2 else '-')
        x = bits & 1
        if perm & special:
            chars.append(schar if x else schar.upper())
        else:
            chars.append('x' if x else '-')
    return '%04o (%s%s)' % (perm & 0o7777, 'd' if is_dir else '-', ''.join(chars))
