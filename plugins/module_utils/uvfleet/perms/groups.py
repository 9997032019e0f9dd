# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is who: the shared group from a name or GID, its members, the principals of ``acl_allow``.

Nothing is changed before these resolve: a group or principal that does not exist, or
that could be read two ways, is refused with a message that says what to pass instead.
"""

from __future__ import absolute_import, division, print_function

import grp
import pwd

from ..fs import acl as aclmod
from .errors import PermsError, UnknownGroup

#: the largest GID: 2**32 - 1 is (gid_t)-1, which chown/fchown take as "leave the group unchanged"
MAX_GID = 0xFFFFFFFE
_ASCII_DIGITS = frozenset('0123456789')


def _getgrnam(name):
    try:
        return grp.getgrnam(name)
    except (KeyError, ValueError, UnicodeError):
        return None


def _getgrgid(gid):
    try:
        return grp.getgrgid(gid)
    except (KeyError, OverflowError, ValueError):
        return None


def resolve_group(group):
    """(gid, name) for a group name or numeric GID that exists on this host; UnknownGroup otherwise.

    A GID is ASCII digits only (no sign, no other Unicode digits), at most 4294967294
    (4294967295 is -1 to fchown).  A name wins over a number: a group whose name is
    all digits is that group, unless the same digits are also the GID of *another*
    group, which is refused as ambiguous.  Nothing is changed before this resolves.
    """
    if isinstance(group, bool) or group is None:
        raise UnknownGroup('group must be a group name or a numeric GID, got %r' % (group,))
    if isinstance(group, int):
        text = str(group)
    else:
        text = str(group).strip()
    if not text:
        raise UnknownGroup('group is empty: pass the shared group by name (e.g. uvshared) or numeric GID')
    numeric = set(text) <= _ASCII_DIGITS
    by_name = _getgrnam(text) if not isinstance(group, int) else None
    by_gid = None
    if numeric:
        gid = int(text)
        if gid > MAX_GID and by_name is None:
            raise UnknownGroup('GID %s is out of range (0 to %d; %d means "no change" to chown): pass an existing '
                               'group name or GID' % (text, MAX_GID, MAX_GID + 1))
        if gid <= MAX_GID:
            by_gid = _getgrgid(gid)
    if by_name is not None:
        if by_gid is not None and by_gid.gr_gid != by_name.gr_gid:
            raise UnknownGroup('group %r is ambiguous: it is the name of group GID %d and the GID of group %r; '
                               'pass the name of the group you mean (%r or %r)'
                               % (text, by_name.gr_gid, by_gid.gr_name, by_gid.gr_name, text))
        return by_name.gr_gid, by_name.gr_name
    if numeric:
        if by_gid is None:
            raise UnknownGroup('GID %s does not exist on this host: create the group first (the uvfleet.uv.shared role '
                               'does) or pass the name of an existing group' % text)
        return by_gid.gr_gid, by_gid.gr_name
    if any(ch.isdigit() for ch in text) and all(ch.isdigit() for ch in text):
        raise UnknownGroup('group %r is not a GID: a GID is ASCII digits 0-9 only; pass the group name or an ASCII GID'
                           % text)
    raise UnknownGroup('group %r does not exist on this host; create it first (the uvfleet.uv.shared role does) '
                       'or pass the numeric GID of an existing group' % text)


class Membership(object):
    """Is a uid a member of the group (primary gid or listed member)?  Cached per uid.

    uid 0 is never counted as a member: a hardlinked root-owned file is never changed.
    """

    def __init__(self, gid):
        self.gid = gid
        self._cache = {0: False}
        self._names = None

    def _member_names(self):
        if self._names is None:
            try:
                self._names = frozenset(grp.getgrgid(self.gid).gr_mem)
            except KeyError:
                self._names = frozenset()
        return self._names

    def __call__(self, uid):
        known = self._cache.get(uid)
        if known is not None:
            return known
        try:
            pw = pwd.getpwuid(uid)
            member = pw.pw_gid == self.gid or pw.pw_name in self._member_names()
        except KeyError:
            member = False
        self._cache[uid] = member
        return member


def principal_name(tag, ident):
    """The name of the user or group an ACL entry names ('unknown' when it names no one)."""
    try:
        if tag == aclmod.USER:
            return pwd.getpwuid(ident).pw_name
        return grp.getgrgid(ident).gr_name
    except (KeyError, OverflowError):
        return 'unknown'


def parse_acl_allow(principals):
    """(uids, gids) from ``user:NAME``, ``user:UID``, ``group:NAME``, ``group:GID`` (``u:``/``g:`` too).

    Names must resolve; ids are ASCII digits.  PermsError otherwise.
    """
    uids = set()
    gids = set()
    for item in principals or ():
        text = str(item).strip()
        kind, sep, who = text.partition(':')
        kind = kind.strip().lower()
        who = who.strip()
        if not sep or kind not in ('user', 'u', 'group', 'g') or not who:
            raise PermsError('acl_allow entry %r: expected user:NAME, user:UID, group:NAME or group:GID' % text)
        if kind in ('group', 'g'):
            gids.add(resolve_group(who)[0])
            continue
        try:
            uids.add(pwd.getpwnam(who).pw_uid)
            continue
        except KeyError:
            pass
        if set(who) <= _ASCII_DIGITS and int(who) <= MAX_GID:
            uids.add(int(who))
        else:
            raise PermsError('acl_allow entry %r: no such user; pass an existing user name or an ASCII numeric UID' % text)
    return frozenset(uids), frozenset(gids)
